import type { EntityManager } from '@mikro-orm/postgresql';
import { Seeder } from '@mikro-orm/seeder';
import { parseConfig } from '../src/config.ts';
import {
  formatImportProblems,
  formatImportSummary,
  importPatients,
  readSeedFile,
} from '../src/patients/patient.import.ts';

/**
 * `npx mikro-orm seeder:run`: imports the json-server file named by DB_JSON
 * (default seeders/db.json). `SEED_DRY_RUN=1` validates and reports without writing.
 */
export class DatabaseSeeder extends Seeder {
  async run(em: EntityManager): Promise<void> {
    const config = parseConfig(process.env);
    const data = await readSeedFile(config.dbJsonPath);
    const report = await importPatients(em, data, { dryRun: config.seedDryRun });
    for (const line of formatImportProblems(report)) console.log(line);
    console.log(formatImportSummary(report));
  }
}
