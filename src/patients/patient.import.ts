import { readFile } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { INT_MAX } from '../core/resource.ts';
import { Patient, type PatientEntity } from './patient.entity.ts';
import { patients } from './patient.fields.ts';
import { type PatientInput, patientInput } from './patient.schemas.ts';

/**
 * Imports a json-server `db.json` (`{"patients": [...]}`) into the patients table.
 *
 * - Each record is validated with the API's own schema (so text must be well-formed, as on the
 *   API); invalid ones are skipped and reported by position, field path and message. Never a
 *   value from the file, the record's id included: a file's ids, keys and values may all be
 *   patient data, and the report ends up in logs.
 * - json-server ids are kept, so links in the frontend keep working. Re-running is idempotent:
 *   matching rows are left alone, changed ones updated, nothing is duplicated.
 * - Everything happens in one transaction, and the id sequence is moved past every id in the
 *   table, so the next created patient gets `max(id) + 1` (and never a reused id).
 */

export interface ImportProblem {
  /** The record's position in the file's `patients` array (from 0). */
  index: number;
  /** Field paths and fixed messages: nothing read from the file. */
  issues: { path: string; message: string }[];
}

export interface ImportReport {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  invalid: number;
  dryRun: boolean;
  problems: ImportProblem[];
}

/** The file could not be used at all (missing, unreadable, not JSON, wrong shape). */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

const fileShape = z.object({ patients: z.array(z.unknown()) });
const recordId = z.number().int().positive().max(INT_MAX);
const CHUNK = 1000;
/** The field that must be unique besides the id (its API name and entity property). */
const UNIQUE = patients.uniqueNames[0]!;
const UNIQUE_PROPERTY = patients.fields[UNIQUE].property;

interface ValidRecord {
  index: number;
  id: number;
  input: PatientInput;
}

export async function readSeedFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImportFileError(code === 'ENOENT' ? `Seed file not found: ${path}` : `Cannot read seed file ${path} (${code ?? 'error'})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ImportFileError(`Seed file ${path} is not valid JSON`);
  }
}

export async function importPatients(
  em: EntityManager,
  data: unknown,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<ImportReport> {
  const file = fileShape.safeParse(data);
  if (!file.success) {
    throw new ImportFileError('Seed data must be a JSON object with a "patients" array');
  }
  const { valid, problems } = validateRecords(file.data.patients);
  const report: ImportReport = {
    read: file.data.patients.length,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    invalid: 0,
    dryRun,
    problems,
  };

  await em.transactional(async (tx) => {
    for (let start = 0; start < valid.length; start += CHUNK) {
      await importChunk(tx, valid.slice(start, start + CHUNK), report, dryRun);
      tx.clear();
    }
    if (!dryRun) await advanceIdSequence(tx);
  });
  report.problems.sort((a, b) => a.index - b.index);
  report.invalid = report.problems.length;
  return report;
}

function validateRecords(records: unknown[]) {
  const valid: ValidRecord[] = [];
  const problems: ImportProblem[] = [];
  const seenIds = new Set<number>();
  const seenUnique = new Set<unknown>();
  records.forEach((record, index) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      problems.push({ index, issues: [{ path: '', message: 'must be an object' }] });
      return;
    }
    const { id, ...fields } = record as Record<string, unknown>;
    const issues: ImportProblem['issues'] = [];
    const idResult = recordId.safeParse(id);
    if (!idResult.success) issues.push({ path: 'id', message: 'must be a positive integer' });
    const parsed = patientInput.safeParse(fields);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        // The one zod message that quotes the input: the names of unknown keys, which are the file's.
        const message = issue.code === 'unrecognized_keys' ? `${issue.keys.length} unknown field(s)` : issue.message;
        issues.push({ path: issue.path.join('.'), message });
      }
    }
    if (idResult.success && seenIds.has(idResult.data)) {
      issues.push({ path: 'id', message: 'duplicate id in the file' });
    }
    if (parsed.success && seenUnique.has(parsed.data[UNIQUE])) {
      issues.push({ path: UNIQUE, message: `duplicate ${UNIQUE} in the file` });
    }
    if (idResult.success) seenIds.add(idResult.data);
    if (parsed.success) seenUnique.add(parsed.data[UNIQUE]);
    if (issues.length > 0 || !idResult.success || !parsed.success) {
      problems.push({ index, issues });
      return;
    }
    valid.push({ index, id: idResult.data, input: parsed.data });
  });
  return { valid, problems };
}

async function importChunk(tx: EntityManager, chunk: ValidRecord[], report: ImportReport, dryRun: boolean) {
  const byId = new Map((await tx.find(Patient, { id: { $in: chunk.map((r) => r.id) } })).map((p) => [p.id, p] as const));
  // A unique value already held by another row would break the unique constraint: report it.
  const holders = await tx.find(
    Patient,
    { [UNIQUE_PROPERTY]: { $in: chunk.map((r) => r.input[UNIQUE]) } },
    { fields: ['id', UNIQUE_PROPERTY as 'id'] },
  );
  const holderOf = new Map(holders.map((p) => [(p as unknown as Record<string, unknown>)[UNIQUE_PROPERTY], p.id] as const));
  /** One `import` event per inserted or changed record, written in the same transaction. */
  const events: { patientId: number; changes: Record<string, { from: unknown; to: unknown }> }[] = [];

  for (const record of chunk) {
    const holder = holderOf.get(record.input[UNIQUE]);
    if (holder !== undefined && holder !== record.id) {
      report.problems.push({
        index: record.index,
        issues: [{ path: UNIQUE, message: 'already used by another patient in the database' }],
      });
      continue;
    }
    const columns = patients.toProperties(record.input) as Partial<PatientEntity>;
    const existing = byId.get(record.id);
    if (!existing) {
      report.inserted++;
      if (!dryRun) tx.create(Patient, { id: record.id, ...columns } as PatientEntity);
      events.push({ patientId: record.id, changes: changesOf(undefined, record.input) });
    } else if (sameColumns(existing, columns)) {
      report.unchanged++;
    } else {
      report.updated++;
      events.push({ patientId: record.id, changes: changesOf(existing, record.input) });
      // A change is a new version: a write based on the version before the import is then refused.
      if (!dryRun) tx.assign(existing, { ...columns, version: existing.version + 1 });
    }
  }
  if (dryRun) return;
  await tx.flush();
  if (events.length > 0) {
    await tx.execute(
      `insert into patient_events (patient_id, op, changes, actor)
       select (e->>'patientId')::int, 'import', e->'changes', '${IMPORT_ACTOR}' from jsonb_array_elements(?::jsonb) e`,
      [JSON.stringify(events)],
    );
  }
}

/** The actor of the events the importer writes. */
export const IMPORT_ACTOR = 'import';

/** `{ field: { from, to } }` for the fields an import sets (all of them for a new record). */
function changesOf(existing: PatientEntity | undefined, input: PatientInput): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const name of patients.writable) {
    const from = existing ? (existing as unknown as Record<string, unknown>)[patients.fields[name].property] : null;
    const to = input[name];
    if (from !== to) changes[name] = { from, to };
  }
  return changes;
}

function sameColumns(existing: PatientEntity, columns: Partial<PatientEntity>): boolean {
  return (Object.keys(columns) as (keyof typeof columns)[]).every((key) => existing[key] === columns[key]);
}

/** Moves the id sequence past the highest id ever used, so a created patient never reuses one. */
async function advanceIdSequence(tx: EntityManager) {
  // `patients_id_seq` is the serial sequence the initial migration created for patients.id.
  await tx.execute(
    `select setval('patients_id_seq',
       greatest(
         (select coalesce(max(id), 0) from patients),
         (select case when is_called then last_value else last_value - 1 end from patients_id_seq)
       ) + 1,
       false)`,
  );
}

/** One line for operators: counts only. */
export function formatImportSummary(report: ImportReport): string {
  const mode = report.dryRun ? ' (dry run: nothing written)' : '';
  return `Seed summary${mode}: read ${report.read}, inserted ${report.inserted}, updated ${report.updated}, unchanged ${report.unchanged}, invalid ${report.invalid}`;
}

/**
 * One line per invalid record: its position in the file, the field paths and what is wrong
 * (`Skipped record #3: id: must be a positive integer; age: ...`). Nothing read from the file.
 */
export function formatImportProblems(report: ImportReport): string[] {
  return report.problems.map((p) => {
    const issues = p.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    return `Skipped record #${p.index}: ${issues}`;
  });
}
