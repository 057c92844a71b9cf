import { Migration } from '@mikro-orm/migrations';

/**
 * The change history of patient records (src/patients/patient-event.entity.ts), append-only: a
 * trigger refuses every UPDATE and DELETE of an event, whoever runs it.
 */
export class Migration20261205234224_patient_events extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "patient_events" ("id" bigserial primary key, "patient_id" int not null, "op" varchar(10) check ("op" in ('create', 'replace', 'update', 'delete', 'import')) not null, "changes" jsonb not null, "actor" varchar(100) not null, "request_id" varchar(128) null, "at" timestamptz not null default now());`,
    );
    this.addSql(`create index "patient_events_patient" on "patient_events" ("patient_id", "id");`);
    this.addSql(
      `create function patient_events_append_only() returns trigger language plpgsql as $$ begin raise exception 'patient_events is append-only' using errcode = 'insufficient_privilege'; end $$;`,
    );
    this.addSql(
      `create trigger patient_events_append_only before update or delete on "patient_events" for each row execute function patient_events_append_only();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "patient_events" cascade;`);
    this.addSql(`drop function if exists patient_events_append_only();`);
  }
}
