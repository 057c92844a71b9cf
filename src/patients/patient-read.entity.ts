import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * `patient_reads` (only written with AUDIT_READS=true): who was answered patient data, when, by
 * which procedure, and which patients (their ids; a count for lists). Never the data itself.
 * Append-only like patient_events. `request_ids`: every request the answer went to (identical
 * concurrent GETs share one answer, see src/http/coalesce.ts).
 */
export const PatientRead = defineEntity({
  name: 'PatientRead',
  tableName: 'patient_reads',
  properties: {
    id: p.bigint().primary().autoincrement(),
    at: p.datetime().columnType('timestamptz'),
    actor: p.string().length(100),
    route: p.string().length(100),
    requestIds: p.array().fieldName('request_ids').columnType('text[]'),
    patientIds: p.array().fieldName('patient_ids').columnType('int[]').nullable(),
    count: p.integer().nullable(),
  },
  indexes: [{ name: 'patient_reads_at', properties: ['at'] }],
});

export type PatientReadEntity = InferEntity<typeof PatientRead>;
