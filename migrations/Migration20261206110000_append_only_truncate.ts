import { Migration } from '@mikro-orm/migrations';

/**
 * TRUNCATE fires no row triggers, so the append-only rule of `patient_events` and `patient_reads`
 * (UPDATE and DELETE refused) did not cover it: `truncate patients, patient_events` wiped the
 * history. A statement trigger now refuses it on both tables, unless the transaction itself asks
 * for it: `health.allow_truncate` must hold that transaction's own id
 * (`select set_config('health.allow_truncate', pg_current_xact_id()::text, true)`), so a value
 * set for a whole session, a role or a database, or left over from an earlier transaction, does
 * not count. That is a deliberate reset of a test or staging database (docs/operations.md).
 */
export class Migration20261206110000_append_only_truncate extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create function append_only_no_truncate() returns trigger language plpgsql as $$ begin if coalesce(current_setting('health.allow_truncate', true), '') <> pg_current_xact_id()::text then raise exception '% is append-only: TRUNCATE refused', tg_table_name using errcode = 'insufficient_privilege'; end if; return null; end $$;`,
    );
    this.addSql(
      `create trigger patient_events_no_truncate before truncate on "patient_events" for each statement execute function append_only_no_truncate();`,
    );
    this.addSql(
      `create trigger patient_reads_no_truncate before truncate on "patient_reads" for each statement execute function append_only_no_truncate();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists patient_events_no_truncate on "patient_events";`);
    this.addSql(`drop trigger if exists patient_reads_no_truncate on "patient_reads";`);
    this.addSql(`drop function if exists append_only_no_truncate();`);
  }
}
