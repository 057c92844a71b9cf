import type { PatientEntity } from './patient.entity.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';

/** Entity -> API shape. Builds a fresh object so no ORM field (timestamps) can slip out. */
export function toPatientDto(p: PatientEntity): PatientDto {
  return {
    id: p.id,
    patientID: p.patientId,
    name: p.name,
    age: p.age,
    gender: p.gender,
    medicalCondition: p.medicalCondition,
    lastVisit: p.lastVisit,
  };
}

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
