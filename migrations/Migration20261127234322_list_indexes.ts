import { Migration } from '@mikro-orm/migrations';

/** Indexes for sorted, filtered pages: code-point ("C") order with id as the tie-breaker. */
export class Migration20261127234322_list_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "patients_name_sort" on "patients" (name collate "C", "id");`);
    this.addSql(`create index "patients_patient_id_sort" on "patients" (patient_id collate "C", "id");`);
    this.addSql(`create index "patients_medical_condition_sort" on "patients" (medical_condition collate "C", "id");`);
    this.addSql(`create index "patients_age_sort" on "patients" (age, "id");`);
    this.addSql(`create index "patients_last_visit_sort" on "patients" (last_visit, "id");`);
    this.addSql(`create index "patients_gender_name_sort" on "patients" (gender, name collate "C", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "patients_name_sort";`);
    this.addSql(`drop index "patients_patient_id_sort";`);
    this.addSql(`drop index "patients_medical_condition_sort";`);
    this.addSql(`drop index "patients_age_sort";`);
    this.addSql(`drop index "patients_last_visit_sort";`);
    this.addSql(`drop index "patients_gender_name_sort";`);
  }
}
