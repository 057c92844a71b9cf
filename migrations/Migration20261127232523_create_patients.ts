import { Migration } from '@mikro-orm/migrations';

/** The patients table, with the constraints the API validates (age range, gender set, unique patientID). */
export class Migration20261127232523 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "patients" ("id" serial primary key, "patient_id" varchar(50) not null, "name" varchar(255) not null, "age" int not null, "gender" varchar(20) check ("gender" in ('Male', 'Female', 'Other')) not null, "medical_condition" varchar(255) not null, "last_visit" date not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint patients_age_range check (age >= 0 and age <= 150));`,
    );
    this.addSql(`alter table "patients" add constraint "patients_patient_id_unique" unique ("patient_id");`);
    this.addSql(`create index "patients_name_index" on "patients" ("name");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "patients" cascade;`);
  }
}
