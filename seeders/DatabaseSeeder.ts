import type { EntityManager } from '@mikro-orm/postgresql';
import { Seeder } from '@mikro-orm/seeder';
import { parseConfig } from '../src/config.ts';
import { describeError } from '../src/logger.ts';
import {
  formatImportProblems,
  formatImportSummary,
  ImportFileError,
  type ImportReport,
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
    let report: ImportReport;
    try {
      report = await importPatients(em, data, { dryRun: config.seedDryRun });
    } catch (error) {
      if (error instanceof ImportFileError) throw error;
      // The CLI prints a failure in full, and a driver error quotes the rows it failed on (the
      // file's values). Say only what failed. The import is one transaction and idempotent.
      const { type, code } = describeError(error);
      throw new Error(
        `Seed import failed (${type}${code ? `, code ${code}` : ''}); it is all or nothing: run it again once the cause is fixed`,
      );
    }
    for (const line of formatImportProblems(report)) console.log(line);
    console.log(formatImportSummary(report));
  }
}
