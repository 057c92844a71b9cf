/**
 * Empties the patient tables (tests between cases, benchmarks before a run). The history and
 * audit tables refuse TRUNCATE (append-only, migration append_only_truncate) unless the
 * transaction asks for it with its own id, as this statement does.
 */
export const resetSql = (tables = 'patients, patient_events, patient_reads') =>
  `do $$ begin perform set_config('health.allow_truncate', pg_current_xact_id()::text, true); truncate ${tables} restart identity; end $$`;
export const RESET_TABLES = resetSql();
