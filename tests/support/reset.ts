/**
 * Empties the patient tables (tests between cases, benchmarks before a run). The history and
 * audit tables refuse TRUNCATE (append-only, migration append_only_truncate) unless the
 * transaction asks for it, as this statement does.
 */
export const resetSql = (tables = 'patients, patient_events, patient_reads') =>
  `do $$ begin perform set_config('health.allow_truncate', 'on', true); truncate ${tables} restart identity; end $$`;
export const RESET_TABLES = resetSql();
