import { defineResource, field } from '../core/resource.ts';

export const GENDERS = ['Male', 'Female', 'Other'] as const;
export const MIN_AGE = 0;
export const MAX_AGE = 150;

/**
 * The patient fields, spelled once (with the entity, patient.entity.ts, the only other source
 * file that names them). API names are json-server's camelCase (`patientID`, `medicalCondition`,
 * `lastVisit`); their order is the order of every answer's keys.
 */
export const patients = defineResource({
  name: 'Patient',
  table: 'patients',
  updatedAtColumn: 'updated_at',
  history: { table: 'patient_events', column: 'patient_id' },
  versionColumn: 'version',
  fields: {
    id: field.id(),
    patientID: field.text({ column: 'patient_id', property: 'patientId', max: 50, unique: true, example: 'P100' }),
    name: field.text({ column: 'name', property: 'name', max: 255, example: 'Ada Byron' }),
    age: field.int({ column: 'age', property: 'age', min: MIN_AGE, max: MAX_AGE, example: 36 }),
    gender: field.enum({ column: 'gender', property: 'gender', values: GENDERS, example: 'Female' }),
    medicalCondition: field.text({ column: 'medical_condition', property: 'medicalCondition', max: 255, example: 'Migraine' }),
    lastVisit: field.date({ column: 'last_visit', property: 'lastVisit', example: '2024-06-01' }),
  },
});

export type PatientField = (typeof patients.names)[number];
