/**
 * Process lifecycle, with the server as a real child process: SIGTERM drains under load, a second
 * signal or the grace deadline forces a non-zero exit, an acknowledged write survives kill -9, and
 * instances migrating together apply each migration once.
 */
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from './support/database.ts';
import { slowUpload } from './support/http.ts';
import { type ServerProcess, startServerProcess } from './support/process.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const patient = (patientID: string) => ({
  patientID,
  name: 'Shut Down',
  age: 40,
  gender: 'Male',
  medicalCondition: 'None',
  lastVisit: '2024-01-01',
});

/** Sends raw HTTP/1.1 requests on one kept-alive socket. */
function keepAliveSocket(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  let buffer = '';
  socket.on('data', (c: Buffer) => (buffer += c.toString()));
  socket.on('error', () => undefined);
  return {
    async get(path: string): Promise<string> {
      buffer = '';
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
      const deadline = Date.now() + 3000;
      while (!/\r\n\r\n[\s\S]*\}/.test(buffer) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return buffer;
    },
    close: () => socket.destroy(),
  };
}

async function started(env: Record<string, string>): Promise<{ server: ServerProcess; port: number }> {
  const server = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', ...env });
  return { server, port: await server.listening };
}

describe('SIGTERM', () => {
  it('under load: stops accepting, lets in-flight requests finish, answers kept-alive sockets 503 + close, exits 0', async () => {
    // One process, so the kept-alive socket and the in-flight upload share a server (with several
    // workers, a worker with nothing in flight closes its connections at once).
    const { server, port } = await started({ WORKERS: '1' });
    const keepAlive = keepAliveSocket(port);
    expect(await keepAlive.get('/health')).toMatch(/^HTTP\/1\.1 200/);
    const upload = slowUpload(port, JSON.stringify(patient('SIG1')));
    const burst = Array.from({ length: 30 }, () => fetch(`http://127.0.0.1:${port}/patients`).then((r) => r.status));
    await new Promise((r) => setTimeout(r, 100));

    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = await keepAlive.get('/patients');
    expect(late).toMatch(/^HTTP\/1\.1 503/);
    expect(late.toLowerCase().match(/connection: close/g)).toHaveLength(1);
    // The listener is closed: a new connection is refused.
    await expect(
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s.destroy()));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);

    upload.finish();
    expect((await upload.response).status).toBe(201);
    // Requests that reached the server before SIGTERM finish (200); any that arrive later on a
    // kept-alive connection are told to go away (503). Never a dropped or broken response.
    const statuses = await Promise.all(burst);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses).toContain(200);
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"drained":true');
    keepAlive.close();
    expect(await db.query(`select id from patients where patient_id = 'SIG1'`)).toHaveLength(1);
  });

  it('a second signal exits at once with a non-zero code', async () => {
    const { server, port } = await started({});
    const upload = slowUpload(port, JSON.stringify(patient('SIG2')));
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('second signal');
    await upload.response.catch(() => undefined);
  });

  it('past SHUTDOWN_GRACE_MS it gives up on a request that never ends, and exits non-zero', async () => {
    const { server, port } = await started({ SHUTDOWN_GRACE_MS: '500' });
    const upload = slowUpload(port, JSON.stringify(patient('SIG3')));
    await new Promise((r) => setTimeout(r, 100));
    const at = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(1);
    expect(Date.now() - at).toBeLessThan(4_000);
    await upload.response.catch(() => undefined);
  });
});

describe('no lost writes', () => {
  it('a create that returned 201 is in the database after kill -9 right after the reply (PostgreSQL URL)', async () => {
    const { server, port } = await started({});
    const res = await fetch(`http://127.0.0.1:${port}/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(patient('K9A')),
    });
    server.child.kill('SIGKILL');
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    await server.exited;
    expect(await db.query('select patient_id from patients where id = $1', [id])).toEqual([{ patient_id: 'K9A' }]);
    // Its history event was written by the same statement: acknowledged means recorded.
    expect(await db.query('select op from patient_events where patient_id = $1', [id])).toEqual([{ op: 'create' }]);
  });

  it('the same on the embedded database: after kill -9 and a restart the record is there', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'k9-')), 'data');
    const first = startServerProcess({ DATA_DIR: dataDir });
    const port = await first.listening;
    const res = await fetch(`http://127.0.0.1:${port}/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(patient('K9B')),
    });
    first.child.kill('SIGKILL');
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    await first.exited;
    const second = startServerProcess({ DATA_DIR: dataDir });
    const port2 = await second.listening;
    const again = await fetch(`http://127.0.0.1:${port2}/patients/${id}`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { patientID: string }).patientID).toBe('K9B');
    const history = (await (await fetch(`http://127.0.0.1:${port2}/patients/${id}/history`)).json()) as { op: string }[];
    expect(history.map((e) => e.op)).toEqual(['create']);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe.runIf(serverUrl)('migrations under concurrency (PostgreSQL server)', () => {
  it('two instances starting together with MIGRATE_ON_START apply each migration exactly once', async () => {
    const fresh = await createTestDatabase();
    try {
      const a = startServerProcess({ DATABASE_URL: fresh.url, MIGRATE_ON_START: 'true' });
      const b = startServerProcess({ DATABASE_URL: fresh.url, MIGRATE_ON_START: 'true' });
      await Promise.all([a.listening, b.listening]);
      const rows = await fresh.query<{ name: string; n: string }>('select name, count(*) as n from mikro_orm_migrations group by name');
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(rows.every((r) => r.n === '1')).toBe(true);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(await b.exited).toBe(0);
      expect(a.output().includes('applied database migrations') !== b.output().includes('applied database migrations')).toBe(true);
    } finally {
      await fresh.drop();
    }
  });
});
