import { Migration } from '@mikro-orm/migrations';

/** The optional access audit (AUDIT_READS): who was answered which patients, never the data; append-only. */
export class Migration20261206000520_patient_reads extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "patient_reads" ("id" bigserial primary key, "at" timestamptz not null, "actor" varchar(100) not null, "route" varchar(100) not null, "request_ids" text[] not null, "patient_ids" int[] null, "count" int null);`,
    );
    this.addSql(`create index "patient_reads_at" on "patient_reads" ("at");`);
    this.addSql(
      `create function patient_reads_append_only() returns trigger language plpgsql as $$ begin raise exception 'patient_reads is append-only' using errcode = 'insufficient_privilege'; end $$;`,
    );
    this.addSql(
      `create trigger patient_reads_append_only before update or delete on "patient_reads" for each row execute function patient_reads_append_only();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "patient_reads" cascade;`);
    this.addSql(`drop function if exists patient_reads_append_only();`);
  }
}
