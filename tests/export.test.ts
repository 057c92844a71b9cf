/**
 * `npm run export -- <file>`: the way back to json-server. The file is a json-server db.json
 * (key order and types of the API), importing it into an empty database gives the same rows,
 * it never overwrites a file without --force, and on the embedded database it needs the
 * DATA_DIR the service is not running on.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/database.ts';
import { importPatients } from '../src/patients/patient.import.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { run, startServerProcess } from './support/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'export-'));
const exportTo = (file: string, env: Record<string, string>, ...flags: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'scripts/export.ts', file, ...flags], env);
const KEYS = ['id', 'patientID', 'name', 'age', 'gender', 'medicalCondition', 'lastVisit'];

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.stop());

describe('npm run export', () => {
  it('writes every patient as json-server db.json; seeding it into an empty database gives the same rows', async () => {
    for (const [i, name] of ['Zoë Ångström', 'Omar "Q" Khan', 'Li'].entries()) {
      expect((await postJson(t.baseUrl, '/patients', samplePatient({ patientID: `E${i}`, name, age: i * 40 }))).status).toBe(201);
    }
    await t.db.query(`delete from patients where patient_id = 'E1'`);
    const file = join(dir, 'db.json');
    const result = await exportTo(file, { DATABASE_URL: t.db.url });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Exported 2 patient(s) to ${file}\n`);
    expect(statSync(file).mode & 0o077).toBe(0);

    const text = readFileSync(file, 'utf8');
    const exported = JSON.parse(text) as { patients: Record<string, unknown>[] };
    expect(text).toBe(`${JSON.stringify(exported, null, 2)}\n`);
    expect(Object.keys(exported)).toEqual(['patients']);
    for (const p of exported.patients) expect(Object.keys(p)).toEqual(KEYS);
    expect(exported.patients).toEqual(await (await fetch(`${t.baseUrl}/patients`)).json());
    expect(typeof exported.patients[0]!.age).toBe('number');

    const fresh = await createTestDatabase();
    const db = await openDatabase({
      databaseUrl: fresh.url,
      dataDir: '',
      poolMax: 2,
      migrateOnStart: true,
      logger: pino({ level: 'silent' }),
    });
    try {
      const report = await importPatients(db.orm.em.fork(), exported);
      expect(report).toMatchObject({ inserted: 2, invalid: 0 });
      const columns = 'id, patient_id, name, age, gender, medical_condition, last_visit::text';
      expect(await fresh.query(`select ${columns} from patients order by id`)).toEqual(
        await t.db.query(`select ${columns} from patients order by id`),
      );
    } finally {
      await db.close();
      await fresh.drop();
    }
  });

  it('refuses to overwrite an existing file unless --force; a missing argument is a usage error', async () => {
    const file = join(dir, 'existing.json');
    writeFileSync(file, 'keep me');
    const refused = await exportTo(file, { DATABASE_URL: t.db.url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --force');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    const forced = await exportTo(file, { DATABASE_URL: t.db.url }, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('patients');
    const usage = await run(process.execPath, ['--import', 'tsx', 'scripts/export.ts'], { DATABASE_URL: t.db.url });
    expect(usage.code).toBe(64);
  });

  it('on the embedded database: not while the service runs on DATA_DIR; afterwards, its patients', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'export-embedded-')), 'data');
    const server = startServerProcess({ DATA_DIR: dataDir });
    const port = await server.listening;
    expect((await postJson(`http://127.0.0.1:${port}`, '/patients', samplePatient({ patientID: 'EMB-1' }))).status).toBe(201);
    const busy = await exportTo(join(dir, 'busy.json'), { DATA_DIR: dataDir });
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toContain(dataDir);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const file = join(dir, 'embedded.json');
    const done = await exportTo(file, { DATA_DIR: dataDir });
    expect(done.code, done.stderr).toBe(0);
    const ids = (JSON.parse(readFileSync(file, 'utf8')) as { patients: { patientID: string }[] }).patients.map((p) => p.patientID);
    expect(ids).toContain('EMB-1');
    expect(ids.length).toBeGreaterThan(1); // the sample patients of the first start too
    const none = await exportTo(join(dir, 'none.json'), { DATA_DIR: join(dir, 'no-such-dir') });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No embedded database');
  });
});
