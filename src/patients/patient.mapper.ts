import type { PatientInput } from './patient.schemas.ts';

/** API input -> entity columns. */
export function toPatientColumns(input: PatientInput) {
  return {
    patientId: input.patientID,
    name: input.name,
    age: input.age,
    gender: input.gender,
    medicalCondition: input.medicalCondition,
    lastVisit: input.lastVisit,
  };
}
