import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { slowUpload } from './support/http.ts';
import { run, startServerProcess } from './support/process.ts';

const newPatient = { patientID: 'LC1', name: 'Life Cycle', age: 33, gender: 'Other', medicalCondition: 'None', lastVisit: '2024-07-01' };

describe('embedded default (no DATABASE_URL)', () => {
  it('creates, migrates and seeds the embedded database on first start, and keeps data across restarts', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'embedded-')), 'data');
    const first = startServerProcess({ DATA_DIR: dataDir });
    let port = await first.listening;
    const seeded = (await (await fetch(`http://127.0.0.1:${port}/patients`)).json()) as { id: number; patientID: string; name: string }[];
    expect(seeded.length).toBeGreaterThanOrEqual(3);
    expect(seeded[0]).toEqual({
      id: 1,
      patientID: 'P001',
      name: 'John Doe',
      age: 45,
      gender: 'Male',
      medicalCondition: 'Hypertension',
      lastVisit: '2024-01-15',
    });
    const created = await fetch(`http://127.0.0.1:${port}/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(newPatient),
    });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { id: number }).id).toBe(seeded.length + 1);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = startServerProcess({ DATA_DIR: dataDir });
    port = await second.listening;
    const after = (await (await fetch(`http://127.0.0.1:${port}/patients`)).json()) as { patientID: string }[];
    expect(after.length).toBe(seeded.length + 1);
    expect(after.at(-1)?.patientID).toBe('LC1');
    expect(second.output()).not.toContain('Seed summary');
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('WORKERS=2 on the embedded database: created, migrated and seeded once, served by both workers', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'embedded-')), 'data');
    const server = startServerProcess({ DATA_DIR: dataDir, WORKERS: '2' });
    const port = await server.listening;
    expect(server.output()).toMatch(/"workers":2,.*"msg":"cluster listening"/);
    const list = (await (await fetch(`http://127.0.0.1:${port}/patients`)).json()) as { patientID: string }[];
    expect(list[0]?.patientID).toBe('P001');
    expect(server.output().match(/Seed summary/g)).toHaveLength(1);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

describe('with DATABASE_URL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('refuses to start while migrations are pending, and says which command to run', async () => {
    const server = startServerProcess({ DATABASE_URL: db.url });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('npx mikro-orm migration:up');
    expect(server.output()).toContain('MIGRATE_ON_START=true');
    expect((await db.query(`select to_regclass('patients') as t`))[0]?.t).toBeNull();
  });

  it('with MIGRATE_ON_START=true applies them and serves; SIGTERM lets an in-flight request finish and exits 0', async () => {
    const server = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true' });
    const port = await server.listening;
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

    // An upload still in progress when SIGTERM arrives.
    const upload = slowUpload(port, JSON.stringify(newPatient));
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    upload.finish();
    const response = upload.response;
    const result = await response;
    expect(result.status).toBe(201);
    expect(JSON.parse(result.body).patientID).toBe('LC1');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"shutting down"');
    expect((await db.query(`select patient_id from patients`)).length).toBe(1);
  });
});

describe('configuration errors', () => {
  it('stop the start with a message that names the variable and never prints its value', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      PORT: 'not-a-port-XYZ',
      DATABASE_URL: 'mysql://admin:s3cr3t-pw@db.internal/health',
      LOG_LEVEL: 'loud',
    });
    expect(result.code).toBe(78);
    const text = result.stdout + result.stderr;
    expect(text).toContain('PORT');
    expect(text).toContain('DATABASE_URL');
    expect(text).toContain('LOG_LEVEL');
    for (const secret of ['s3cr3t-pw', 'not-a-port-XYZ', 'db.internal', 'loud']) expect(text).not.toContain(secret);
  });
});
