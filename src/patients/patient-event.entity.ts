import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

import { EVENT_OPS } from '../core/history-sql.ts';

/**
 * `patient_events`: the change history of every patient record, append-only (a trigger refuses
 * UPDATE and DELETE; see its migration). One row per acknowledged write, written by the same
 * statement (or, for the importer, the same transaction) as the change: `id` is the order of
 * commits for one patient; `changes` maps each changed field to `{ from, to }`. No foreign key:
 * the history of a deleted patient stays.
 */
export const PatientEvent = defineEntity({
  name: 'PatientEvent',
  tableName: 'patient_events',
  properties: {
    id: p.bigint().primary().autoincrement(),
    patientId: p.integer().fieldName('patient_id'),
    op: p
      .enum([...EVENT_OPS])
      .$type<(typeof EVENT_OPS)[number]>()
      .columnType('varchar(10)'),
    changes: p.json().columnType('jsonb'),
    actor: p.string().length(100),
    requestId: p.string().fieldName('request_id').length(128).nullable(),
    at: p.datetime().columnType('timestamptz').defaultRaw('now()'),
  },
  indexes: [{ name: 'patient_events_patient', properties: ['patientId', 'id'] }],
});

export type PatientEventEntity = InferEntity<typeof PatientEvent>;
