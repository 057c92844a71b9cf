import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRecordService } from '../src/core/record-service.ts';
import { patients } from '../src/patients/patient.fields.ts';
import {
  formatImportProblems,
  formatImportSummary,
  ImportFileError,
  importPatients,
  readSeedFile,
} from '../src/patients/patient.import.ts';
import { useOpenedTestDatabase } from './support/database.ts';
import { mikroOrm } from './support/process.ts';

const opened = useOpenedTestDatabase();

const record = (id: number, overrides: Record<string, unknown> = {}) => ({
  id,
  patientID: `P${String(id).padStart(3, '0')}`,
  name: `Patient ${id}`,
  age: 30 + id,
  gender: 'Other',
  medicalCondition: 'Checkup',
  lastVisit: '2024-01-15',
  ...overrides,
});
const file = (...patients: unknown[]) => ({ patients });
const rows = () =>
  opened.tdb.query<{ id: number; patient_id: string; name: string }>('select id, patient_id, name from patients order by id');
const createNewPatient = () =>
  createRecordService(opened.db.sql, patients).create(
    {
      patientID: 'NEW',
      name: 'New',
      age: 1,
      gender: 'Male',
      medicalCondition: 'Flu',
      lastVisit: '2024-06-01',
    },
    { actor: 'seeder-test', requestId: null },
  );
const run = (data: unknown, dryRun = false) => importPatients(opened.db.orm.em.fork(), data, { dryRun });

describe('json-server import', () => {
  it('imports every valid record, keeping json-server ids', async () => {
    const report = await run(file(record(1), record(2), record(7)));
    expect(report).toMatchObject({ read: 3, inserted: 3, updated: 0, unchanged: 0, invalid: 0 });
    expect((await rows()).map((r) => r.id)).toEqual([1, 2, 7]);
  });

  it('is idempotent: a second run changes nothing, a changed record is updated', async () => {
    await run(file(record(1), record(2)));
    const again = await run(file(record(1), record(2)));
    expect(again).toMatchObject({ read: 2, inserted: 0, updated: 0, unchanged: 2, invalid: 0 });
    const changed = await run(file(record(1), record(2, { name: 'Renamed' }), record(3)));
    expect(changed).toMatchObject({ inserted: 1, updated: 1, unchanged: 1 });
    expect((await rows()).map((r) => [r.id, r.name])).toEqual([
      [1, 'Patient 1'],
      [2, 'Renamed'],
      [3, 'Patient 3'],
    ]);
  });

  it('leaves the id sequence after max(id): the next created patient gets max(id)+1', async () => {
    await run(file(record(4), record(40)));
    const created = await createNewPatient();
    expect(created.id).toBe(41);
  });

  it('never moves the sequence backwards, so ids are not reused', async () => {
    await run(file(record(10)));
    await opened.tdb.query('delete from patients where id = 10');
    await run(file(record(2)));
    const created = await createNewPatient();
    expect(created.id).toBe(11);
  });

  it('skips invalid records and reports position, field paths and messages, never a value from the file', async () => {
    const report = await run(
      file(
        record(1),
        record(2, { age: 151, name: 'ZZ-SECRET-NAME', lastVisit: '2024-02-30' }),
        { ...record(3), id: 'abc' },
        'not an object',
        record(5, { patientID: 'P001' }),
        record(6, { 'ZZ-KEY-NAME': 'field' }),
        record(1, { patientID: 'P099' }),
      ),
    );
    expect(report).toMatchObject({ read: 7, inserted: 1, invalid: 6 });
    expect(report.problems.map((p) => p.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(report.problems[0]).toEqual({ index: 1, issues: expect.any(Array) });
    expect(report.problems[0]!.issues.map((i) => i.path).sort()).toEqual(['age', 'lastVisit']);
    expect(report.problems[3]!.issues).toEqual([{ path: 'patientID', message: 'duplicate patientID in the file' }]);
    expect(report.problems[4]!.issues).toEqual([{ path: '', message: '1 unknown field(s)' }]);
    expect(report.problems[5]!.issues).toEqual([{ path: 'id', message: 'duplicate id in the file' }]);
    const lines = formatImportProblems(report);
    expect(lines[0]).toMatch(/^Skipped record #1: (age|lastVisit): .+; (age|lastVisit): .+$/);
    expect(lines[1]).toBe('Skipped record #2: id: must be a positive integer');
    expect(lines[2]).toBe('Skipped record #3: must be an object');
    expect(lines[3]).toBe('Skipped record #4: patientID: duplicate patientID in the file');
    expect(lines[4]).toBe('Skipped record #5: 1 unknown field(s)');
    expect(lines[5]).toBe('Skipped record #6: id: duplicate id in the file');
    const text = [...lines, formatImportSummary(report)].join('\n');
    for (const value of ['ZZ-SECRET-NAME', '151', 'abc', 'ZZ-KEY-NAME', 'P001', 'P099', '(id']) expect(text).not.toContain(value);
    expect(formatImportSummary(report)).toBe('Seed summary: read 7, inserted 1, updated 0, unchanged 0, invalid 6');
    expect((await rows()).map((r) => r.id)).toEqual([1]);
  });

  it('reports a patientID already held by another row instead of failing the import', async () => {
    await run(file(record(1)));
    const report = await run(file(record(2, { patientID: 'P001' }), record(3)));
    expect(report).toMatchObject({ inserted: 1, invalid: 1 });
    expect(report.problems).toEqual([
      { index: 0, issues: [{ path: 'patientID', message: 'already used by another patient in the database' }] },
    ]);
    expect(formatImportProblems(report)).toEqual(['Skipped record #0: patientID: already used by another patient in the database']);
  });

  it('skips and reports a record whose text is not well-formed (a lone surrogate), like the API', async () => {
    const report = await run(
      file(record(1), record(2, { name: '\ud800' }), record(3, { patientID: 'P\udc00x', medicalCondition: 'x\ud800' }), record(4)),
    );
    expect(report).toMatchObject({ read: 4, inserted: 2, invalid: 2 });
    expect(report.problems).toEqual([
      { index: 1, issues: [{ path: 'name', message: 'must be well-formed Unicode text (no lone surrogates)' }] },
      {
        index: 2,
        issues: [
          { path: 'patientID', message: 'must be well-formed Unicode text (no lone surrogates)' },
          { path: 'medicalCondition', message: 'must be well-formed Unicode text (no lone surrogates)' },
        ],
      },
    ]);
    expect((await rows()).map((r) => r.id)).toEqual([1, 4]);
    expect(formatImportProblems(report).join('\n')).not.toMatch(/[\ud800-\udfff\ufffd]/u);
  });

  it('dry run validates and counts without writing anything, the sequence included', async () => {
    await run(file(record(1)));
    const report = await run(file(record(1, { name: 'Changed' }), record(2), record(3, { age: -1 })), true);
    expect(report).toMatchObject({ read: 3, inserted: 1, updated: 1, unchanged: 0, invalid: 1, dryRun: true });
    expect(formatImportSummary(report)).toContain('dry run');
    expect((await rows()).map((r) => [r.id, r.name])).toEqual([[1, 'Patient 1']]);
    const seq = await opened.tdb.query<{ v: string }>(`select last_value as v from patients_id_seq`);
    expect(Number(seq[0]?.v)).toBe(2);
  });

  it('rejects a file that is not {"patients": [...]}', async () => {
    await expect(run({ users: [] })).rejects.toBeInstanceOf(ImportFileError);
    await expect(run([record(1)])).rejects.toBeInstanceOf(ImportFileError);
  });

  it('reports a missing or unparseable file clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seed-'));
    await expect(readSeedFile(join(dir, 'missing.json'))).rejects.toThrow(/Seed file not found/);
    writeFileSync(join(dir, 'bad.json'), '{"patients": [');
    await expect(readSeedFile(join(dir, 'bad.json'))).rejects.toThrow(/not valid JSON/);
  });

  it('imports in one transaction: a failure leaves nothing written', async () => {
    await run(file(record(1)));
    // A row the importer cannot foresee: a check constraint rejects it inside the transaction.
    await opened.tdb.query(`alter table patients add constraint test_no_p3 check (patient_id <> 'P003')`);
    try {
      await expect(run(file(record(1, { name: 'Changed' }), record(2), record(3)))).rejects.toThrow();
      expect((await rows()).map((r) => [r.id, r.name])).toEqual([[1, 'Patient 1']]);
    } finally {
      await opened.tdb.query('alter table patients drop constraint test_no_p3');
    }
  });
});

describe('seeder:run output (the MikroORM CLI, as an operator runs it)', () => {
  const MARKER = 'ZZ-PHI-MARKER';
  const seed = async (data: unknown, env: Record<string, string> = {}) => {
    const path = join(mkdtempSync(join(tmpdir(), 'seed-cli-')), 'db.json');
    writeFileSync(path, JSON.stringify(data));
    const result = await mikroOrm(['seeder:run'], { DATABASE_URL: opened.tdb.url, DB_JSON: path, ...env });
    return { ...result, output: result.stdout + result.stderr };
  };

  it('reports a record with a string id and invalid fields by position and field only, never a value from the file', async () => {
    const result = await seed(
      file(
        record(1),
        {
          id: MARKER,
          patientID: MARKER,
          name: MARKER,
          age: MARKER,
          gender: MARKER,
          medicalCondition: ' ',
          lastVisit: MARKER,
          [MARKER]: MARKER,
        },
        { ...record(3, { name: MARKER }), id: MARKER },
      ),
    );
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toMatch(
      /^Skipped record #1: id: must be a positive integer; .*age: .*gender: .*medicalCondition: must not be blank.*lastVisit: .*1 unknown field\(s\)$/m,
    );
    expect(result.stdout).toContain('Skipped record #2: id: must be a positive integer\n');
    expect(result.stdout).toContain('Seed summary: read 3, inserted 1, updated 0, unchanged 0, invalid 2');
    expect(result.output).not.toContain(MARKER);
    expect((await rows()).map((r) => r.id)).toEqual([1]);
  });

  it('a database failure during the import says what failed without quoting the rows, and writes nothing', async () => {
    // A rule only the database knows: the insert fails, and the driver's message quotes the row.
    await opened.tdb.query(`alter table patients add constraint test_no_marker check (name <> '${MARKER}')`);
    try {
      const result = await seed(file(record(1), record(2, { name: MARKER })));
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('Seed import failed (CheckConstraintViolationException');
      expect(result.output).not.toContain(MARKER);
      expect(await rows()).toEqual([]);
    } finally {
      await opened.tdb.query('alter table patients drop constraint test_no_marker');
    }
  });
});
