import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SqlClient } from '../db/sql-client.ts';
import { patients } from './patient.fields.ts';

/** The target exists and `--force` was not given. */
export class ExportTargetExistsError extends Error {
  override name = 'ExportTargetExistsError';
}

/**
 * Every patient as a json-server `db.json`: `{"patients": [...]}` in id order, each record with
 * the API's keys in the API's order (`id` first, like the fixture json-server started from) and
 * types (numbers for id and age, `YYYY-MM-DD` text for dates), written as json-server writes its
 * file (two-space indentation). `seeder:run` of the result into an empty database gives the same
 * rows (tests/export.test.ts).
 */
export async function exportPatients(db: SqlClient): Promise<{ json: string; count: number }> {
  const rows = await db.query<Record<string, unknown>>(
    `select ${patients.select} from ${patients.table} order by ${patients.column(patients.idName)}`,
  );
  return { json: `${JSON.stringify({ [patients.table]: rows }, null, 2)}\n`, count: rows.length };
}

/**
 * Writes `text` to `path` whole or not at all: to a temporary file beside it, then renamed over
 * it. An existing file is kept unless `force`. The file may hold patient data: readable by its
 * owner only.
 */
export function writeExportFile(path: string, text: string, { force }: { force: boolean }): void {
  if (!force && existsSync(path)) throw new ExportTargetExistsError(`${path} exists; pass --force to overwrite it`);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
    if (!force && existsSync(path)) throw new ExportTargetExistsError(`${path} exists; pass --force to overwrite it`);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
}
