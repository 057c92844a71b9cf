import { Migration } from '@mikro-orm/migrations';

/** A version per patient for optimistic concurrency (ETag / If-Match, expectedVersion): 1 on create, +1 per change. */
export class Migration20261205235426_patient_version extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "patients" add column "version" int not null default 1;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "patients" drop column "version";`);
  }
}
