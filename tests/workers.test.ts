/**
 * WORKERS=n: n HTTP worker threads on one port, sharing nothing but PostgreSQL. A write made
 * through one worker is visible through every other at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { type ServerProcess, startServerProcess } from './support/process.ts';

let db: TestDatabase;
let server: ServerProcess;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', WORKERS: '2' });
  base = `http://127.0.0.1:${await server.listening}`;
});
afterAll(() => db?.drop());

let n = 0;
/** One request on a fresh connection; returns which worker served it (from the request log). */
async function viaFreshConnection(method: string, path: string, body?: unknown) {
  const requestId = `wk-${process.pid}-${n++}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { connection: 'close', 'x-request-id': requestId, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const payload = await res.json();
  let worker: number | undefined;
  for (let i = 0; i < 50 && worker === undefined; i++) {
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes(`"reqId":"${requestId}"`));
    if (line) worker = (JSON.parse(line) as { worker: number }).worker;
    else await new Promise((r) => setTimeout(r, 20));
  }
  return { status: res.status, payload, worker };
}

describe('WORKERS=2', () => {
  it('starts two workers on one port, and a write through one is read back through the other at once', async () => {
    expect(server.output()).toMatch(/"workers":2,.*"msg":"cluster listening"/);
    const created = await viaFreshConnection('POST', '/patients', {
      patientID: 'WK1',
      name: 'Two Workers',
      age: 30,
      gender: 'Other',
      medicalCondition: 'None',
      lastVisit: '2024-02-02',
    });
    expect(created.status).toBe(201);
    const id = (created.payload as { id: number }).id;
    const readers = new Set<number>();
    for (let i = 0; i < 60 && readers.size < 2; i++) {
      const read = await viaFreshConnection('GET', `/patients/${id}`);
      expect(read.status).toBe(200);
      expect(read.payload).toEqual(created.payload);
      if (read.worker !== undefined) readers.add(read.worker);
    }
    expect([...readers].sort()).toEqual([0, 1]);
    expect(readers).toContain(created.worker);
  });

  it('PATCH through one worker, list through the other: no stale reads', async () => {
    const { payload } = await viaFreshConnection('GET', '/patients?patientID=WK1');
    const id = (payload as { id: number }[])[0]!.id;
    for (let age = 31; age < 37; age++) {
      const patched = await viaFreshConnection('PATCH', `/patients/${id}`, { age });
      expect(patched.status).toBe(200);
      const seen = await viaFreshConnection('GET', `/patients/${id}`);
      expect((seen.payload as { age: number }).age).toBe(age);
    }
  });
  it('SIGTERM stops every worker cleanly: exit 0, all drained', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"drained":true');
  });
});
