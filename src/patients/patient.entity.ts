import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const GENDERS = ['Male', 'Female', 'Other'] as const;
export type Gender = (typeof GENDERS)[number];
export const MIN_AGE = 0;
export const MAX_AGE = 150;

/**
 * The `patients` table. The database enforces what the API validates (lengths, non-null,
 * unique patient_id, age range, gender set), so no code path can store a bad row.
 * `lastVisit` is a `date` column read back as a `YYYY-MM-DD` string: no timezone drift.
 */
export const Patient = defineEntity({
  name: 'Patient',
  tableName: 'patients',
  properties: {
    id: p.integer().primary().autoincrement(),
    patientId: p.string().fieldName('patient_id').length(50).unique(),
    name: p.string().length(255).index(),
    age: p.integer(),
    gender: p.enum([...GENDERS]).$type<Gender>().columnType('varchar(20)'),
    medicalCondition: p.string().length(255),
    lastVisit: p.date(),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .defaultRaw('now()')
      .onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .columnType('timestamptz')
      .defaultRaw('now()')
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  // gender's check constraint comes from the enum property (MikroORM names it patients_gender_check)
  checks: [{ name: 'patients_age_range', expression: `age >= ${MIN_AGE} and age <= ${MAX_AGE}` }],
});

export type PatientEntity = InferEntity<typeof Patient>;
