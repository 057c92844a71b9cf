import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatImportProblems,
  formatImportSummary,
  ImportFileError,
  importPatients,
  readSeedFile,
} from '../src/patients/patient.import.ts';
import { createPatientService } from '../src/patients/patient.service.ts';
import { useOpenedTestDatabase } from './support/database.ts';

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
const rows = () => opened.tdb.query<{ id: number; patient_id: string; name: string }>('select id, patient_id, name from patients order by id');
const createNewPatient = () =>
  createPatientService(opened.db.sql).create({ patientID: 'NEW', name: 'New', age: 1, gender: 'Male', medicalCondition: 'Flu', lastVisit: '2024-06-01' });
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

  it('skips invalid records and reports index, id, field paths and messages, never values', async () => {
    const report = await run(
      file(
        record(1),
        record(2, { age: 151, name: 'ZZ-SECRET-NAME', lastVisit: '2024-02-30' }),
        { ...record(3), id: 'abc' },
        'not an object',
        record(5, { patientID: 'P001' }),
        record(6, { extra: 'field' }),
        record(1, { patientID: 'P099' }),
      ),
    );
    expect(report).toMatchObject({ read: 7, inserted: 1, invalid: 6 });
    expect(report.problems.map((p) => p.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(report.problems[0]).toMatchObject({ index: 1, id: 2 });
    expect(report.problems[0]!.issues.map((i) => i.path).sort()).toEqual(['age', 'lastVisit']);
    expect(report.problems[3]!.issues).toEqual([{ path: 'patientID', message: 'duplicate patientID in the file' }]);
    expect(report.problems[5]!.issues).toEqual([{ path: 'id', message: 'duplicate id in the file' }]);
    const text = [...formatImportProblems(report), formatImportSummary(report)].join('\n');
    expect(text).not.toContain('ZZ-SECRET-NAME');
    expect(text).not.toContain('151');
    expect(text).toContain('Skipped record #1 (id 2)');
    expect(formatImportSummary(report)).toBe('Seed summary: read 7, inserted 1, updated 0, unchanged 0, invalid 6');
    expect((await rows()).map((r) => r.id)).toEqual([1]);
  });

  it('reports a patientID already held by another row instead of failing the import', async () => {
    await run(file(record(1)));
    const report = await run(file(record(2, { patientID: 'P001' }), record(3)));
    expect(report).toMatchObject({ inserted: 1, invalid: 1 });
    expect(report.problems[0]!.issues[0]!.message).toBe('already used by the patient with id 1');
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
