import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { mikroOrm, startServerProcess } from './support/process.ts';

/** The operator's path on a real PostgreSQL: migration:up, seeder:run (twice), then serve. */
let db: TestDatabase;
const dir = mkdtempSync(join(tmpdir(), 'cli-'));
const seedFile = join(dir, 'db.json');

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const patient = (id: number, patientID: string) => ({
  id,
  patientID,
  name: `Patient ${id}`,
  age: 50,
  gender: 'Female',
  medicalCondition: 'Asthma',
  lastVisit: '2024-03-10',
});

describe('MikroORM CLI on an empty database', () => {
  it('migration:up creates the schema and migration:check then reports nothing pending', async () => {
    const pending = await mikroOrm(['migration:pending'], { DATABASE_URL: db.url });
    expect(pending.stdout).toMatch(/Migration\d+_create_patients/);
    const up = await mikroOrm(['migration:up'], { DATABASE_URL: db.url });
    expect(up.code, up.stderr).toBe(0);
    const check = await mikroOrm(['migration:check'], { DATABASE_URL: db.url });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const after = await mikroOrm(['migration:pending'], { DATABASE_URL: db.url });
    expect(after.stdout).not.toMatch(/Migration\d+_create_patients/);
    const tables = await db.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(['mikro_orm_migrations', 'patient_events', 'patient_reads', 'patients']);
  });

  it('enforces the API rules in the database itself', async () => {
    const insert = (age: number, gender: string, pid: string) =>
      db.query(
        `insert into patients (patient_id, name, age, gender, medical_condition, last_visit) values ($1, 'n', $2, $3, 'c', '2024-01-01')`,
        [pid, age, gender],
      );
    await expect(insert(151, 'Male', 'X1')).rejects.toThrow(/patients_age_range/);
    await expect(insert(-1, 'Male', 'X2')).rejects.toThrow(/patients_age_range/);
    await expect(insert(30, 'male', 'X3')).rejects.toThrow(/patients_gender_check/);
    await insert(30, 'Male', 'X4');
    await expect(insert(31, 'Female', 'X4')).rejects.toThrow(/patients_patient_id_unique/);
    await db.query(`delete from patients`);
  });

  it('seeder:run twice imports each record once; the next POST gets max(id)+1', async () => {
    writeFileSync(seedFile, JSON.stringify({ patients: [patient(3, 'A3'), patient(12, 'A12'), patient(5, 'A5')] }));
    const env = { DATABASE_URL: db.url, DB_JSON: seedFile };
    const first = await mikroOrm(['seeder:run'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Seed summary: read 3, inserted 3, updated 0, unchanged 0, invalid 0');
    const second = await mikroOrm(['seeder:run'], env);
    expect(second.stdout).toContain('Seed summary: read 3, inserted 0, updated 0, unchanged 3, invalid 0');
    expect((await db.query<{ n: string }>('select count(*) as n from patients'))[0]?.n).toBe('3');

    const server = startServerProcess({ DATABASE_URL: db.url });
    try {
      const port = await server.listening;
      const res = await fetch(`http://127.0.0.1:${port}/patients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...patient(0, 'NEW'), id: undefined }),
      });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { id: number }).id).toBe(13);
      const list = await createClient({ baseUrl: `http://127.0.0.1:${port}` }).patient.list.query();
      expect(list.map((p) => p.id)).toEqual([3, 5, 12, 13]);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it('SEED_DRY_RUN=1 reports and writes nothing; invalid records are reported without values', async () => {
    writeFileSync(seedFile, JSON.stringify({ patients: [patient(40, 'B40'), { ...patient(41, 'B41'), name: 'ZZ-MARKER', age: 999 }] }));
    const dry = await mikroOrm(['seeder:run'], { DATABASE_URL: db.url, DB_JSON: seedFile, SEED_DRY_RUN: '1' });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Skipped record #1: age:');
    expect(dry.stdout).toContain('Seed summary (dry run: nothing written): read 2, inserted 1, updated 0, unchanged 0, invalid 1');
    expect(dry.stdout + dry.stderr).not.toContain('ZZ-MARKER');
    expect((await db.query('select id from patients where id = 40')).length).toBe(0);
  });

  it('a missing or unparseable seed file is an error with a clear message and a non-zero exit', async () => {
    const missing = await mikroOrm(['seeder:run'], { DATABASE_URL: db.url, DB_JSON: join(dir, 'nope.json') });
    expect(missing.code).not.toBe(0);
    expect(missing.stdout + missing.stderr).toContain('Seed file not found');
    writeFileSync(seedFile, '{"patients": [');
    const broken = await mikroOrm(['seeder:run'], { DATABASE_URL: db.url, DB_JSON: seedFile });
    expect(broken.code).not.toBe(0);
    expect(broken.stdout + broken.stderr).toContain('is not valid JSON');
  });
});
