import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { GENDERS, MAX_AGE, MIN_AGE } from './patient.fields.ts';

type Gender = (typeof GENDERS)[number];

const sortIndex = (name: string, columns: string) => ({
  name,
  expression: `create index "${name}" on "patients" (${columns}, "id")`,
});

/**
 * The `patients` table, as MikroORM knows it (migrations, the importer). Its columns are those of
 * the field descriptor (patient.fields.ts); tests/resource.test.ts checks that the two agree.
 * The database enforces what the API validates (lengths, non-null,
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
    gender: p
      .enum([...GENDERS])
      .$type<Gender>()
      .columnType('varchar(20)'),
    medicalCondition: p.string().length(255),
    lastVisit: p.date(),
    // Optimistic concurrency: 1 on create, +1 with every change (the API's ETag / expectedVersion).
    version: p.integer().default(1),
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
  // Indexes for the list queries: sorts run in the "C" collation (code-point order, like
  // json-server), each with id as the tie-breaker, so "filter + sort + page" reads only one page.
  indexes: [
    sortIndex('patients_name_sort', 'name collate "C"'),
    sortIndex('patients_patient_id_sort', 'patient_id collate "C"'),
    sortIndex('patients_medical_condition_sort', 'medical_condition collate "C"'),
    sortIndex('patients_age_sort', 'age'),
    sortIndex('patients_last_visit_sort', 'last_visit'),
    sortIndex('patients_gender_name_sort', 'gender, name collate "C"'),
  ],
  // gender's check constraint comes from the enum property (MikroORM names it patients_gender_check)
  checks: [{ name: 'patients_age_range', expression: `age >= ${MIN_AGE} and age <= ${MAX_AGE}` }],
});

export type PatientEntity = InferEntity<typeof Patient>;
