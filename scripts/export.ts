/**
 * `npm run export -- <file> [--force]`: writes every patient to a json-server `db.json` (the way
 * back to json-server). The database is the service's: DATABASE_URL, or the embedded one in
 * DATA_DIR (whose lock it takes, so not while the service runs on it). Refuses to overwrite an
 * existing file unless `--force`. Prints counts only, never a value.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config.ts';
import { acquireDataDirLock } from '../src/db/data-dir-lock.ts';
import { openDatabase } from '../src/db/database.ts';
import { createLogger, describeError } from '../src/logger.ts';
import { exportPatients, writeExportFile } from '../src/patients/patient.export.ts';

const { values, positionals } = parseArgs({ options: { force: { type: 'boolean', default: false } }, allowPositionals: true });
const [target] = positionals;
if (!target || positionals.length > 1) {
  process.stderr.write('usage: npm run export -- <file> [--force]\n');
  process.exit(64);
}

const config = parseConfig(process.env);
const logger = createLogger('warn');
if (!config.databaseUrl && !existsSync(resolve(config.dataDir))) {
  process.stderr.write(`No embedded database in DATA_DIR ${config.dataDir} (set DATABASE_URL for a PostgreSQL server)\n`);
  process.exit(1);
}
// The embedded database has one opener at a time: not while the service runs on it.
const lock = config.databaseUrl ? undefined : acquireDataDirLock(resolve(config.dataDir), config.dataDir);
try {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    databaseCaCert: config.databaseCaCert,
    dataDir: config.dataDir,
    seedFile: config.dbJsonPath,
    poolMax: 2,
    migrateOnStart: false,
    logger,
  });
  try {
    const { json, count } = await exportPatients(db.sql);
    writeExportFile(target, json, { force: values.force });
    process.stdout.write(`Exported ${count} patient(s) to ${target}\n`);
  } finally {
    await db.close();
  }
} catch (error) {
  const message =
    error instanceof Error && error.name === 'ExportTargetExistsError' ? error.message : `export failed (${describeError(error).type})`;
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
} finally {
  lock?.release();
}
