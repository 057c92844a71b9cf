import { Migration } from '@mikro-orm/migrations';

/**
 * Live updates across processes (src/live/): every statement that appends patient events sends
 * one NOTIFY on the channel `patient_events`. PostgreSQL delivers it only after the transaction
 * commits (and never for one that rolls back), to every listening connection, one per process.
 * The payload is empty: listeners read the events from the table, so a lost notification costs
 * only latency, never an event.
 */
export class Migration20261206021500_patient_events_notify extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create function patient_events_notify() returns trigger language plpgsql as $$ begin perform pg_notify('patient_events', ''); return null; end $$;`,
    );
    this.addSql(
      `create trigger patient_events_notify after insert on "patient_events" for each statement execute function patient_events_notify();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists patient_events_notify on "patient_events";`);
    this.addSql(`drop function if exists patient_events_notify();`);
  }
}
