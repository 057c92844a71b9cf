/**
 * Database outages: the service stays up, answers fast with 503 (+ Retry-After) while the database
 * is away, and recovers by itself when it is back. The outage is made with a TCP proxy between
 * the service and the database (other test files share the PostgreSQL server, so it is not
 * stopped), and on PostgreSQL also by killing the service's backends with pg_terminate_backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../src/app.ts';
import { createClient } from '../src/client.ts';
import { parseConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { createTestDatabase, serverUrl, type TestDatabase } from './support/database.ts';
import { startServerProcess } from './support/process.ts';
import { type DbProxy, startDbProxy } from './support/proxy.ts';

let db: TestDatabase;
let proxy: DbProxy;
let app: App;
let base: string;

const timed = async <T>(fn: () => Promise<T>) => {
  const start = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - start };
};
const patient = (patientID: string) => ({
  patientID,
  name: 'Out Age',
  age: 50,
  gender: 'Other',
  medicalCondition: 'None',
  lastVisit: '2024-01-01',
});

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await startDbProxy(db.url);
  const config = parseConfig({
    PORT: '0',
    DATABASE_URL: proxy.url,
    MIGRATE_ON_START: 'true',
    DB_POOL_MAX: '4',
    DB_ACQUIRE_TIMEOUT_MS: '1000',
    DB_CONNECT_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'silent',
    COALESCE_READS: 'false',
  });
  app = await startApp({ config, logger: createLogger('silent') });
  base = `http://127.0.0.1:${app.port}`;
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await db?.drop();
});

describe('database outage', () => {
  it('degrades to fast 503s with Retry-After, keeps the process up, and recovers without a restart', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    proxy.down();

    const health = await timed(() => fetch(`${base}/health`));
    expect(health.value.status).toBe(503);
    expect(await health.value.json()).toMatchObject({ status: 'unhealthy', database: 'disconnected' });
    expect(health.ms).toBeLessThan(2_000);

    for (const [method, path, body] of [
      ['GET', '/patients'],
      ['GET', '/patients/1'],
      ['POST', '/patients', patient('OUT1')],
    ] as const) {
      const res = await timed(() =>
        fetch(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
        }),
      );
      expect(res.value.status, `${method} ${path}`).toBe(503);
      expect(res.value.headers.get('retry-after')).toBe('5');
      expect(await res.value.json()).toEqual({ message: 'Database unavailable', code: 'SERVICE_UNAVAILABLE' });
      expect(res.ms).toBeLessThan(3_000);
    }
    const trpc = createClient({ baseUrl: base, batch: false });
    const err = await trpc.patient.list.query().catch((e: { data?: { httpStatus?: number } }) => e);
    expect((err as { data?: { httpStatus?: number } }).data?.httpStatus).toBe(503);

    proxy.up();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${base}/health`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    const created = await fetch(`${base}/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(patient('OUT2')),
    });
    expect(created.status).toBe(201);
    expect((await fetch(`${base}/patients`)).status).toBe(200);
  });

  it('survives having its connections killed (pg_terminate_backend on PostgreSQL) and answers again at once', async () => {
    // Warm the pool, then kill every connection of this service.
    await Promise.all(Array.from({ length: 4 }, () => fetch(`${base}/patients`)));
    if (serverUrl) {
      const killed = await db.query<{ n: string }>(
        `select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = current_database() and application_name = 'health-management-api'`,
      );
      expect(Number(killed[0]?.n)).toBeGreaterThan(0);
    } else {
      // PGlite has a single backend; cut every connection of the service at the proxy instead.
      proxy.down();
      proxy.up();
    }
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${base}/patients`)).status);
    // At most the requests that drew a dead connection fail (503); then everything answers.
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.slice(-3)).toEqual([200, 200, 200]);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});

describe('time limits', () => {
  it('a query stuck behind a lock ends within the statement timeout (504/503), not never', async () => {
    const blocked = await startDbProxy(db.url);
    const config = parseConfig({
      PORT: '0',
      DATABASE_URL: blocked.url,
      DB_POOL_MAX: '2',
      DB_STATEMENT_TIMEOUT_MS: '500',
      LOG_LEVEL: 'silent',
      COALESCE_READS: 'false',
    });
    const slowApp = await startApp({ config, logger: createLogger('silent') });
    const pg = await import('pg');
    const locker = new pg.default.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table patients in access exclusive mode');
      const res = await timed(() => fetch(`http://127.0.0.1:${slowApp.port}/patients`));
      expect([503, 504]).toContain(res.value.status);
      expect(res.ms).toBeLessThan(4_000);
    } finally {
      await locker.query('rollback').catch(() => undefined);
      await locker.end();
      await slowApp.stop();
      await blocked.close();
    }
    expect((await fetch(`${base}/patients`)).status).toBe(200);
  });
});

describe('starting while the database is down', () => {
  it('retries for STARTUP_DB_WAIT_MS, then exits 1 with a message that names no secret', async () => {
    const down = await startDbProxy(db.url);
    down.down();
    const url = new URL(down.url);
    url.password = 'sup3r-s3cret';
    url.username = 'someone';
    const started = Date.now();
    const server = startServerProcess({ DATABASE_URL: url.toString(), STARTUP_DB_WAIT_MS: '1500' });
    expect(await server.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(server.output()).toContain('Cannot reach the database named by DATABASE_URL');
    expect(server.output()).not.toContain('sup3r-s3cret');
    await down.close();
  });
});
