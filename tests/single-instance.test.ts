/**
 * Two starts of the service must never share an embedded data directory or an HTTP port: before,
 * both answered, ids repeated, and acknowledged writes were lost after a restart.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { fatalMessages, type ServerProcess, startServerProcess } from './support/process.ts';

const patient = (patientID: string) => ({
  patientID,
  name: 'Single Instance',
  age: 50,
  gender: 'Other',
  medicalCondition: 'None',
  lastVisit: '2024-03-03',
});
const post = (port: number, patientID: string) =>
  fetch(`http://127.0.0.1:${port}/patients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(patient(patientID)),
  });

/** Every file under `dir` with its size and modification time: a fingerprint of "touched or not". */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const s = statSync(path);
      if (s.isDirectory()) walk(path);
      else out.push(`${path} ${s.size} ${s.mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

async function stop(server: ServerProcess) {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

describe('one process per embedded DATA_DIR', () => {
  const root = mkdtempSync(join(tmpdir(), 'single-'));
  const dataDir = join(root, 'data');

  it('a second start on the same DATA_DIR (another port) exits non-zero, names DATA_DIR and the holder, touches nothing; the first keeps serving and every acknowledged write survives a restart', async () => {
    const first = startServerProcess({ DATA_DIR: dataDir });
    const port = await first.listening;
    const acknowledged: number[] = [];
    for (const id of ['SI1', 'SI2']) {
      const res = await post(port, id);
      expect(res.status).toBe(201);
      acknowledged.push(((await res.json()) as { id: number }).id);
    }
    const before = snapshot(root);

    const second = startServerProcess({ DATA_DIR: dataDir });
    expect(await second.exited).not.toBe(0);
    const fatal = fatalMessages(second);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`DATA_DIR ${dataDir} is in use by another process (pid ${first.child.pid})`);
    expect(second.output()).not.toContain('listening');
    expect(snapshot(root)).toEqual(before);

    // The first is unaffected: it still serves, and its writes are kept.
    for (const id of ['SI3', 'SI4']) {
      const res = await post(port, id);
      expect(res.status).toBe(201);
      acknowledged.push(((await res.json()) as { id: number }).id);
    }
    expect(new Set(acknowledged).size).toBe(4);
    await stop(first);

    const again = startServerProcess({ DATA_DIR: dataDir });
    const port2 = await again.listening;
    const list = (await (await fetch(`http://127.0.0.1:${port2}/patients?patientID_like=^SI`)).json()) as {
      id: number;
      patientID: string;
    }[];
    expect(list.map((p) => p.patientID)).toEqual(['SI1', 'SI2', 'SI3', 'SI4']);
    expect(list.map((p) => p.id)).toEqual(acknowledged);
    await stop(again);
  });

  it('a lock left by kill -9 is taken over by the next start, with the data intact', async () => {
    const killed = startServerProcess({ DATA_DIR: dataDir });
    const port = await killed.listening;
    const res = await post(port, 'SI5');
    expect(res.status).toBe(201);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(readFileSync(`${dataDir}.lock`, 'utf8')).toContain(`"pid":${killed.child.pid}`);

    const next = startServerProcess({ DATA_DIR: dataDir });
    const port2 = await next.listening;
    const found = (await (await fetch(`http://127.0.0.1:${port2}/patients?patientID=SI5`)).json()) as unknown[];
    expect(found).toHaveLength(1);
    expect(readFileSync(`${dataDir}.lock`, 'utf8')).toContain(`"pid":${next.child.pid}`);
    await stop(next);
  });
});

describe('one process per HTTP port', () => {
  it('embedded: a second start on a busy port (another DATA_DIR) fails at once with "port N in use", creating nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'port-'));
    const port = await freePort();
    const first = startServerProcess({ DATA_DIR: join(root, 'a'), PORT: String(port) });
    expect(await first.listening).toBe(port);

    const second = startServerProcess({ DATA_DIR: join(root, 'b'), PORT: String(port) });
    expect(await second.exited).not.toBe(0);
    expect(fatalMessages(second).join('\n')).toContain(`port ${port} in use`);
    expect(readdirSync(root).sort()).toEqual(['a', 'a.lock']);

    const res = await post(port, 'PT1');
    expect(res.status).toBe(201);
    await stop(first);
  });

  describe('with DATABASE_URL', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(() => db?.drop());

    it('WORKERS=2 holds its port for its own threads only: a second start (1 or 2 workers) is refused, the first keeps serving from both threads', async () => {
      const port = await freePort();
      const first = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', PORT: String(port), WORKERS: '2' });
      expect(await first.listening).toBe(port);
      for (const workers of ['1', '2']) {
        const second = startServerProcess({ DATABASE_URL: db.url, PORT: String(port), WORKERS: workers });
        expect(await second.exited).not.toBe(0);
        expect(fatalMessages(second).join('\n')).toContain(`port ${port} in use`);
      }
      // Every answer comes from the first process, whichever of its threads serves it.
      const servedBy = new Set<number>();
      for (let i = 0; i < 40 && servedBy.size < 2; i++) {
        const requestId = `port-${i}`;
        const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: 'close', 'x-request-id': requestId } });
        expect(res.status).toBe(200);
        await new Promise((r) => setTimeout(r, 20));
        const line = first
          .output()
          .split('\n')
          .find((l) => l.includes(`"reqId":"${requestId}"`));
        if (line) servedBy.add((JSON.parse(line) as { worker: number }).worker);
      }
      expect([...servedBy].sort()).toEqual([0, 1]);
      await stop(first);
    });
  });
});
