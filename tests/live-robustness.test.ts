/**
 * Live updates (GET /patients/events, patient.onChange) under the conditions a deployment meets:
 * a client that stops reading, a stop or SIGTERM with streams open, the database dropping the
 * service's connections, two instances on one PostgreSQL, thousands of subscribers, and worker
 * threads. Every check is on what clients receive: each event once, in event-id order, none missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { EventSource } from 'eventsource';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../src/app.ts';
import { createClient } from '../src/client.ts';
import { dbTimeouts, parseConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/logger.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase, serverUrl, type TestDatabase } from './support/database.ts';
import { type ServerProcess, startServerProcess } from './support/process.ts';
import { openSse, type SseClient, until } from './support/sse.ts';

/** The longest texts the API takes: big events fill a stalled client's buffers with fewer writes. */
const LONG = 'L'.repeat(255);
const patient = (patientID: string, long = false) => ({
  patientID,
  name: long ? patientID.padEnd(255, '.') : `Live ${patientID}`,
  age: 40,
  gender: 'Other' as const,
  medicalCondition: long ? LONG : 'Checkup',
  lastVisit: '2024-03-01',
});

/** POST /patients; the created id (fails the test on anything but 201). */
async function create(baseUrl: string, patientID: string, { long = false, headers = {} as Record<string, string> } = {}) {
  const res = await fetch(`${baseUrl}/patients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(patient(patientID, long)),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST /patients answered ${res.status}: ${body}`);
  return (JSON.parse(body) as { id: number }).id;
}

/** `count` creates, `concurrency` at a time; their ids. */
async function createMany(baseUrl: string, prefix: string, count: number, concurrency: number, long = false): Promise<number[]> {
  const ids: number[] = [];
  let next = 0;
  const writer = async () => {
    while (next < count) {
      const i = next++;
      ids.push(await create(baseUrl, `${prefix}${i}`, { long }));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, writer));
  return ids;
}

/** Every event id in the table after `after`, in order: what each subscriber must get. */
async function eventIds(db: TestDatabase, after = 0): Promise<number[]> {
  const rows = await db.query<{ id: number }>('select id::int as id from patient_events where id > $1 order by id', [after]);
  return rows.map((r) => r.id);
}

const lastEventId = async (db: TestDatabase) => (await eventIds(db)).at(-1) ?? 0;

const ids = (c: SseClient) => c.events.map((e) => e.id);

/** The JSON log lines (of a TestApp or a server process' output). */
const parsed = (lines: string[]) =>
  lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
/** Lines logged above info (levels are logged by name). */
const problems = (lines: string[]) => parsed(lines).filter((l) => ['warn', 'error', 'fatal'].includes(String(l.level)));

/** `promise`, or a failure naming `what` if it takes over `ms` (a bound on hanging, not a timing check). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A write made by something else than this service (another instance, a script): straight in the
 * tables, one statement, as the service writes an update. This process' feeds hear of it only from
 * PostgreSQL (LISTEN/NOTIFY) or their safety-net poll.
 */
const writeElsewhere = (db: TestDatabase, id: number) =>
  db.query(
    `with p as (update patients set age = (age + 1) % 151 where id = $1 returning id, age)
     insert into patient_events (patient_id, op, changes, actor)
     select id, 'update', jsonb_build_object('age', jsonb_build_object('to', age)), 'another-instance' from p`,
    [id],
  );

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

describe('a subscriber that stops reading (LIVE_MAX_QUEUED=50)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LIVE_MAX_QUEUED: '50', LOG_LEVEL: 'info' });
  });
  afterAll(() => t?.stop());

  it('is disconnected; a subscriber that reads gets every event meanwhile; the dropped one resumes by Last-Event-ID with no gap and no duplicate', async () => {
    const port = t.app.port;
    const start = await lastEventId(t.db);
    // Both resume from the same position, so each must get exactly the events after it.
    const good = openSse(port, { lastEventId: start, headers: { 'x-request-id': 'reading-subscriber' } });
    const slow = openSse(port, { lastEventId: start, paused: true, headers: { 'x-request-id': 'stalled-subscriber' } });
    await good.connected;
    // The stalled client reads nothing: once the kernel buffers on both sides are full (a few
    // MB), uWS reports backpressure, the feed queues for it, and past 50 events it is dropped. The
    // server logs the stream's end (the stalled client itself cannot see a FIN it never reads).
    const dropped = () => parsed(t.logs).find((l) => l.reqId === 'stalled-subscriber');
    let written = 0;
    const deadline = Date.now() + 50_000;
    // 16 writers at a time: each feed read brings fewer events than the bound (see the next test).
    while (!dropped() && written < 20_000 && Date.now() < deadline) {
      await createMany(t.baseUrl, `SC${written}-`, 400, 16, true);
      written += 400;
    }
    expect(dropped(), `the stalled subscriber was not dropped after ${written} writes`).toMatchObject({
      stream: true,
      aborted: true,
      status: 200,
    });
    // Writes after the drop reach the reading subscriber too.
    await createMany(t.baseUrl, 'SC-after-', 100, 16, true);

    const all = await eventIds(t.db, start);
    await until(
      () => good.events.length >= all.length,
      30_000,
      () => `reading subscriber has ${good.events.length} of ${all.length}`,
    );
    expect(ids(good)).toEqual(all);
    expect(good.events.every((e) => e.data.eventId === e.id && e.data.op === 'create' && e.data.patient?.medicalCondition === LONG)).toBe(
      true,
    );
    expect(good.socket.destroyed).toBe(false);
    expect(parsed(t.logs).find((l) => l.reqId === 'reading-subscriber')).toBeUndefined();

    // The stalled client reads what reached it: a prefix of the events, then the connection
    // closes without the chunked body's end (a drop, not a clean end).
    slow.resume();
    expect(await within(slow.closed, 30_000, 'the dropped connection closing')).toEqual({ clean: false });
    const before = ids(slow);
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(all.length);
    expect(before).toEqual(all.slice(0, before.length));

    const resumed = openSse(port, { lastEventId: before.at(-1) as number });
    await until(
      () => resumed.events.length >= all.length - before.length,
      30_000,
      () => `resumed subscriber has ${resumed.events.length} of ${all.length - before.length}`,
    );
    expect([...before, ...ids(resumed)]).toEqual(all);
    console.log(
      `slow consumer: dropped after ${written} writes; it had received ${before.length} events (${slow.socket.bytesRead} bytes), resumed with ${resumed.events.length}`,
    );
    good.destroy();
    resumed.destroy();
    expect(problems(t.logs)).toEqual([]);
  }, 90_000);

  it('a subscriber that reads as fast as it can is not dropped when one burst of writes brings more than LIVE_MAX_QUEUED events at once', async () => {
    const start = await lastEventId(t.db);
    const reader = openSse(t.app.port, { lastEventId: start, headers: { 'x-request-id': 'burst-reader' } });
    await reader.connected;
    // 300 creates sent at once through the typed client: tRPC batches them, the service groups
    // them into a few INSERT statements, and the feed's next read finds far more than 50 new events.
    const client = createClient({ baseUrl: t.baseUrl });
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.patient.create.mutate(patient(`BURST${i}`))));
    const all = await eventIds(t.db, start);
    expect(all).toHaveLength(300);
    let closed = false;
    void reader.closed.then(() => (closed = true));
    await until(
      () => closed || reader.events.length >= all.length,
      20_000,
      () => `reader has ${reader.events.length} of ${all.length}`,
    );
    // The reader never fell behind (it reads everything the moment it arrives), so it must get
    // the whole burst on the same connection.
    expect(closed, `a reader that keeps up was dropped after ${reader.events.length} of ${all.length} events`).toBe(false);
    expect(ids(reader)).toEqual(all);
    reader.destroy();
  });
});

describe('stop with streams open', () => {
  it('app.stop() ends every REST and tRPC stream cleanly, then resolves true (drained)', async () => {
    const t = await startTestApp({ SHUTDOWN_GRACE_MS: '3000', LOG_LEVEL: 'info' });
    try {
      const port = t.app.port;
      const rest = openSse(port);
      const restOne = openSse(port, { path: '/patients/events?id=1' });
      const trpcRaw = openSse(port, { path: '/trpc/patient.onChange' });
      const received: unknown[] = [];
      const states: string[] = [];
      const subscription = createClient({ baseUrl: t.baseUrl, EventSource }).patient.onChange.subscribe(undefined, {
        onData: (d) => received.push(d),
        onConnectionStateChange: (s) => states.push(s.state),
      });
      await Promise.all([rest.connected, restOne.connected]);
      await until(
        () => states.includes('pending') && trpcRaw.status() === 200,
        10_000,
        () => `tRPC client states ${states.join(',')}, raw status ${trpcRaw.status()}`,
      );
      const id = await create(t.baseUrl, 'STOP1');
      expect(id).toBe(1);
      await until(
        () => rest.events.length === 1 && restOne.events.length === 1 && trpcRaw.events.length === 1 && received.length === 1,
        10_000,
        () => `${rest.events.length} ${restOne.events.length} ${trpcRaw.events.length} ${received.length}`,
      );

      const stopping = t.app.stop();
      // Each stream ends with the chunked body's terminating chunk: a clean end, not a dropped connection.
      for (const c of [rest, restOne, trpcRaw]) expect(await within(c.closed, 5_000, 'a stream ending')).toEqual({ clean: true });
      expect(await within(stopping, 10_000, 'app.stop()')).toBe(true);
      // The typed client saw its stream end (it goes back to connecting, to resume elsewhere).
      await until(
        () => states.lastIndexOf('connecting') > states.indexOf('pending'),
        10_000,
        () => `tRPC client states ${states.join(',')}`,
      );
      subscription.unsubscribe();
      const streams = parsed(t.logs).filter((l) => l.stream === true);
      expect(streams).toHaveLength(4);
      expect(problems(t.logs)).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it('SIGTERM: a server process ends its streams cleanly and exits 0, drained, within SHUTDOWN_GRACE_MS', async () => {
    const db = await createTestDatabase();
    let server: ServerProcess | undefined;
    try {
      // 2 s of grace, below tRPC's 5 s ping: a stream that ended only at its next ping would not drain in time.
      server = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', WORKERS: '1', SHUTDOWN_GRACE_MS: '2000' });
      const port = await server.listening;
      const base = `http://127.0.0.1:${port}`;
      const rest = openSse(port);
      const trpcRaw = openSse(port, { path: '/trpc/patient.onChange' });
      const states: string[] = [];
      const received: unknown[] = [];
      const subscription = createClient({ baseUrl: base, EventSource }).patient.onChange.subscribe(undefined, {
        onData: (d) => received.push(d),
        onConnectionStateChange: (s) => states.push(s.state),
      });
      await rest.connected;
      await until(
        () => states.includes('pending') && trpcRaw.status() === 200,
        10_000,
        () => `tRPC client states ${states.join(',')}`,
      );
      await create(base, 'SIGTERM1');
      await until(
        () => rest.events.length === 1 && trpcRaw.events.length === 1 && received.length === 1,
        10_000,
        () => `${rest.events.length} ${trpcRaw.events.length} ${received.length}`,
      );
      server.child.kill('SIGTERM');
      for (const c of [rest, trpcRaw]) expect(await within(c.closed, 5_000, 'a stream ending')).toEqual({ clean: true });
      // Exit 0 means stop() resolved drained before the grace period ran out (main.ts exits 1 otherwise).
      expect(await within(server.exited, 10_000, 'the process exiting')).toBe(0);
      expect(server.output()).toContain('"drained":true');
      await until(
        () => states.lastIndexOf('connecting') > states.indexOf('pending'),
        10_000,
        () => `tRPC client states ${states.join(',')}`,
      );
      subscription.unsubscribe();
      expect(problems(server.output().split('\n'))).toEqual([]);
    } finally {
      if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
      await server?.exited;
      await db.drop();
    }
  });
});

describe.runIf(serverUrl)('the database drops the service’s connections (PostgreSQL)', () => {
  let t: TestApp;
  // The safety-net poll is pushed out of reach: events written elsewhere can only arrive through
  // LISTEN/NOTIFY, or the catch-up read the listener makes once it is back.
  beforeAll(async () => {
    t = await startTestApp({ LIVE_POLL_MS: '60000', LOG_LEVEL: 'info' });
  });
  afterAll(() => t?.stop());

  const listenPids = async () =>
    (
      await t.db.query<{ pid: number }>(
        `select pid from pg_stat_activity where application_name = 'health-management-api-listen' and datname = current_database()`,
      )
    ).map((r) => r.pid);

  /** A new LISTEN connection, not `first`, is up. */
  const listenerReplaced = (first: number | undefined) =>
    until(
      async () => {
        const pids = await listenPids();
        return pids.length === 1 && pids[0] !== first;
      },
      10_000,
      () => 'the listener did not reconnect',
    );

  let subscriber: SseClient;
  let start: number;
  let target: number;

  /** The subscriber got every event since `start` (`count` of them), in order, once. */
  const receivedEverything = async (count: number) => {
    const all = await eventIds(t.db, start);
    expect(all).toHaveLength(count);
    await until(
      () => subscriber.events.length >= all.length,
      10_000,
      () => `subscriber has ${ids(subscriber).join(',')} of ${all.join(',')}`,
    );
    expect(ids(subscriber)).toEqual(all);
  };

  it('LISTEN connection terminated: events written meanwhile (here and elsewhere) all arrive, in order, once; the listener reconnects', async () => {
    await until(
      async () => (await listenPids()).length === 1,
      10_000,
      () => 'no LISTEN connection',
    );
    const [first] = await listenPids();
    target = await create(t.baseUrl, 'DBX0');
    start = await lastEventId(t.db);
    subscriber = openSse(t.app.port, { lastEventId: start });
    await subscriber.connected;
    await createMany(t.baseUrl, 'DBX-a', 5, 1);

    const [{ terminated }] = (await t.db.query(
      `select count(pg_terminate_backend(pid))::int as terminated from pg_stat_activity where application_name = 'health-management-api-listen' and datname = current_database()`,
    )) as [{ terminated: number }];
    expect(terminated).toBe(1);
    // Written while the listener is down (or coming back): the service's own writes poke its
    // feed; the ones made elsewhere are only announced by PostgreSQL.
    await createMany(t.baseUrl, 'DBX-b', 5, 1);
    for (let i = 0; i < 5; i++) await writeElsewhere(t.db, target);

    await listenerReplaced(first);
    await createMany(t.baseUrl, 'DBX-c', 5, 1);
    for (let i = 0; i < 5; i++) await writeElsewhere(t.db, target);

    await receivedEverything(25);
    expect(subscriber.events.filter((e) => e.data.op === 'update')).toHaveLength(10);
    expect(t.logs.some((l) => l.includes('LISTEN connection lost, reconnecting'))).toBe(true);
  });

  it('every connection of the service terminated (request pool too): the same stream carries on, nothing lost or repeated', async () => {
    // A read first, so the request pool has a connection open to lose.
    expect((await fetch(`${t.baseUrl}/patients/${target}`)).status).toBe(200);
    const [first] = await listenPids();
    const [{ terminated }] = (await t.db.query(
      `select count(pg_terminate_backend(pid))::int as terminated from pg_stat_activity
       where application_name like 'health-management-api%' and datname = current_database() and pid <> pg_backend_pid()`,
    )) as [{ terminated: number }];
    expect(terminated).toBeGreaterThanOrEqual(2);
    await listenerReplaced(first);
    for (let i = 0; i < 5; i++) await writeElsewhere(t.db, target);
    await createMany(t.baseUrl, 'DBX-d', 5, 1);
    for (let i = 0; i < 5; i++) await writeElsewhere(t.db, target);

    await receivedEverything(40);
    expect(subscriber.socket.destroyed).toBe(false);
    subscriber.destroy();
  });
});

describe.runIf(serverUrl)('two instances on one PostgreSQL', () => {
  it('subscribed on B, written on A: every event arrives on B, in order (per-event latency printed)', async () => {
    const db = await createTestDatabase();
    const servers: ServerProcess[] = [];
    try {
      const a = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', WORKERS: '1' });
      servers.push(a);
      const portA = await a.listening;
      const b = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', WORKERS: '1' });
      servers.push(b);
      const portB = await b.listening;
      const baseA = `http://127.0.0.1:${portA}`;
      const baseB = `http://127.0.0.1:${portB}`;
      const onB = openSse(portB);
      const onA = openSse(portA);
      await Promise.all([onA.connected, onB.connected]);

      // One write at a time on A: from its acknowledgement to its arrival on B.
      const ackedAt = new Map<number, number>();
      for (let i = 0; i < 200; i++) {
        const id = await create(baseA, `TWO${i}`);
        ackedAt.set(id, performance.now());
      }
      await until(
        () => onB.events.length >= 200,
        5_000,
        () => `B has ${onB.events.length} of 200`,
      );
      const latencies = onB.events.map((e) => e.at - (ackedAt.get(e.data.id) as number)).sort((x, y) => x - y);
      console.log(
        `cross-instance latency over ${latencies.length} events (A acknowledged -> B received, ms): p50 ${percentile(latencies, 50).toFixed(2)}, p99 ${percentile(latencies, 99).toFixed(2)}, max ${(latencies.at(-1) as number).toFixed(2)}`,
      );
      expect(latencies.every((ms) => ms < 5_000)).toBe(true);

      // Then both at once, 8 writers each: both subscribers get the same events, in the table's order.
      await Promise.all([createMany(baseA, 'TWOA', 100, 8), createMany(baseB, 'TWOB', 100, 8)]);
      const all = await eventIds(db);
      expect(all).toHaveLength(400);
      for (const c of [onA, onB]) {
        await until(
          () => c.events.length >= all.length,
          5_000,
          () => `a subscriber has ${c.events.length} of ${all.length}`,
        );
        expect(ids(c)).toEqual(all);
      }
      for (const s of servers) s.child.kill('SIGTERM');
      for (const c of [onA, onB]) expect(await within(c.closed, 5_000, 'a stream ending')).toEqual({ clean: true });
      expect(await Promise.all(servers.map((s) => s.exited))).toEqual([0, 0]);
    } finally {
      for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      await db.drop();
    }
  });
});

describe('2,000 subscribers on one process', () => {
  const SUBSCRIBERS = 2_000;
  let tdb: TestDatabase;
  let stopApp: (() => Promise<boolean>) | undefined;
  afterAll(async () => {
    await stopApp?.();
    await tdb?.drop();
  });

  it('all get the one event written; once they all disconnect the feed stops reading, with nothing logged above info', async () => {
    // Both ends of every connection are in this process: about 4,100 descriptors.
    const limit = /^Max open files\s+(\d+)/m.exec(existsSync('/proc/self/limits') ? readFileSync('/proc/self/limits', 'utf8') : '');
    if (limit)
      expect(Number(limit[1]), 'ulimit -n is too low for 2,000 subscribers and their server').toBeGreaterThan(2 * SUBSCRIBERS + 200);
    tdb = await createTestDatabase();
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    // A 100 ms safety-net poll: while anyone listens the feed reads ten times a second, so a feed
    // still running after everyone left shows in the count of its reads (the one statement with
    // the snapshot's xmin/xmax).
    const config = parseConfig({
      PORT: '0',
      DATABASE_URL: tdb.url,
      MIGRATE_ON_START: 'true',
      DB_POOL_MAX: '4',
      LOG_LEVEL: 'info',
      COALESCE_READS: 'false',
      LIVE_POLL_MS: '100',
    });
    let feedReads = 0;
    const app = await startApp({
      config,
      logger: createLogger(config.logLevel, sink),
      openDb: async (): Promise<Database> => {
        const db = await openDatabase({
          databaseUrl: config.databaseUrl,
          dataDir: config.dataDir,
          poolMax: config.dbPoolMax,
          migrateOnStart: true,
          logger: createLogger('silent'),
          timeouts: dbTimeouts(config),
        });
        const inner = db.sql;
        return {
          ...db,
          sql: {
            maxWaitMs: inner.maxWaitMs,
            query: (text, params, options) => {
              if (text.includes('pg_current_snapshot')) feedReads++;
              return inner.query(text, params, options);
            },
          },
        };
      },
    });
    stopApp = () => app.stop();
    const base = `http://127.0.0.1:${app.port}`;
    const clients: SseClient[] = [];
    // In waves, so the listen backlog never overflows.
    for (let wave = 0; wave < SUBSCRIBERS / 250; wave++) {
      const opened = Array.from({ length: 250 }, () => openSse(app.port));
      clients.push(...opened);
      await within(Promise.all(opened.map((c) => c.connected)), 15_000, `wave ${wave} of subscribers connecting`);
    }
    expect(clients.every((c) => c.status() === 200)).toBe(true);

    const id = await create(base, 'MANY1');
    const [eventId] = await eventIds(tdb);
    await until(
      () => clients.every((c) => c.events.length >= 1),
      15_000,
      () => `${clients.filter((c) => c.events.length >= 1).length} of ${SUBSCRIBERS} subscribers got the event`,
    );
    expect(clients.every((c) => c.events.length === 1 && c.events[0]?.id === eventId && c.events[0]?.data.id === id)).toBe(true);
    const readsWhileListening = feedReads;
    await new Promise((r) => setTimeout(r, 500));
    expect(feedReads).toBeGreaterThan(readsWhileListening);

    for (const c of clients) c.destroy();
    // The server has seen every client go: each stream is logged when it ends.
    await until(
      () => parsed(logs).filter((l) => l.stream === true).length === SUBSCRIBERS,
      15_000,
      () => `${parsed(logs).filter((l) => l.stream === true).length} of ${SUBSCRIBERS} streams ended`,
    );
    const idle = feedReads;
    // Ten poll intervals: a feed still running would read about ten times.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(feedReads).toBe(idle);
    expect(problems(logs)).toEqual([]);
    expect(await app.stop()).toBe(true);
  }, 60_000);
});

describe('WORKERS=2', () => {
  it(`a subscriber gets the writes made through other connections, whichever thread serves them (${serverUrl ? 'PostgreSQL' : 'embedded PGlite'})`, async () => {
    const db = serverUrl ? await createTestDatabase() : undefined;
    const dir = mkdtempSync(join(tmpdir(), 'live-workers-'));
    const server = startServerProcess(
      db ? { DATABASE_URL: db.url, MIGRATE_ON_START: 'true', WORKERS: '2' } : { DATA_DIR: join(dir, 'data'), WORKERS: '2' },
    );
    try {
      const port = await server.listening;
      const base = `http://127.0.0.1:${port}`;
      // Connections are handed to the threads in turn: 8 subscribers are on both.
      const subscribers = Array.from({ length: 8 }, (_, i) => openSse(port, { headers: { 'x-request-id': `wk-sub-${i}` } }));
      await Promise.all(subscribers.map((s) => s.connected));
      // Once every subscriber has had a first event, each thread's feed is surely running: this
      // test is about events crossing threads (when a stream's position is fixed is the subject of
      // the last test of this file).
      await create(base, 'WK-first');
      for (const s of subscribers)
        await until(
          () => s.events.length === 1,
          10_000,
          () => 'a subscriber did not get the first event',
        );
      for (const s of subscribers) s.events.length = 0;
      // 40 writes, each on a connection of its own, so they land on both threads too.
      const created: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < 40) {
            const i = next++;
            created.push(await create(base, `WK${i}`, { headers: { connection: 'close', 'x-request-id': `wk-write-${i}` } }));
          }
        }),
      );
      for (const s of subscribers) {
        await until(
          () => s.events.length >= created.length,
          10_000,
          () => `a subscriber has events for patients ${s.events.map((e) => e.data.id).join(',')}; created ${created.join(',')}`,
        );
      }
      const first = ids(subscribers[0] as SseClient);
      // Strictly increasing, the same for everyone, and exactly the writes made.
      expect(first.every((id, i) => i === 0 || id > (first[i - 1] as number))).toBe(true);
      for (const s of subscribers) expect(ids(s)).toEqual(first);
      expect((subscribers[0] as SseClient).events.map((e) => e.data.id).sort((x, y) => x - y)).toEqual([...created].sort((x, y) => x - y));

      server.child.kill('SIGTERM');
      for (const s of subscribers) expect(await within(s.closed, 5_000, 'a stream ending')).toEqual({ clean: true });
      expect(await within(server.exited, 15_000, 'the process exiting')).toBe(0);
      const lines = parsed(server.output().split('\n'));
      const workerOf = (prefix: string) => new Set(lines.filter((l) => String(l.reqId).startsWith(prefix)).map((l) => l.worker));
      // Both threads served writes, and both served subscribers: events crossed threads both ways.
      expect([...workerOf('wk-write-')].sort()).toEqual([0, 1]);
      expect([...workerOf('wk-sub-')].sort()).toEqual([0, 1]);
      expect(problems(server.output().split('\n'))).toEqual([]);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await server.exited;
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(serverUrl)('a stream that says it is connected (PostgreSQL)', () => {
  let t: TestApp;
  // One pooled connection, so a request waiting on a row lock holds up every other statement.
  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_MAX: '1', DB_ACQUIRE_TIMEOUT_MS: '10000', DB_STATEMENT_TIMEOUT_MS: '20000', LOG_LEVEL: 'info' });
  });
  afterAll(() => t?.stop());

  it('gets every event committed after it said so, even when it opened while the service was busy (REST and tRPC)', async () => {
    const busy = await create(t.baseUrl, 'BUSY1');
    const other = await create(t.baseUrl, 'BUSY2');
    const locker = new pg.Client({ connectionString: t.db.url });
    await locker.connect();
    try {
      // The service is busy: a PATCH waits on a row lock held elsewhere, on the pool's only connection.
      await locker.query('begin');
      await locker.query('select id from patients where id = $1 for update', [busy]);
      const patch = fetch(`${t.baseUrl}/patients/${busy}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ age: 41 }),
      });
      await until(
        async () =>
          (
            await t.db.query(
              `select pid from pg_stat_activity where datname = current_database() and application_name = 'health-management-api' and wait_event_type = 'Lock'`,
            )
          ).length === 1,
        10_000,
        () => 'the PATCH is not waiting on the lock',
      );
      const streams = [openSse(t.app.port), openSse(t.app.port, { path: '/trpc/patient.onChange' })];
      const said = streams.map(() => false);
      for (const [i, c] of streams.entries()) void c.connected.then(() => (said[i] = true));
      /** Per stream: the last event committed before it said it was connected (at the latest). */
      const boundary: (number | undefined)[] = streams.map(() => undefined);
      const mark = async () => {
        const saidNow = [...said];
        const last = await lastEventId(t.db);
        for (const i of streams.keys()) if (saidNow[i] && boundary[i] === undefined) boundary[i] = last;
      };
      // A stream may say it is connected at once, or only once it has its position (which takes
      // the database): give it a moment either way, then write in each situation.
      await Promise.race([Promise.all(streams.map((c) => c.connected)), new Promise((r) => setTimeout(r, 1_000))]);
      await mark();
      // Another instance writes (committed at once), then the PATCH goes through.
      await writeElsewhere(t.db, other);
      await mark();
      await locker.query('commit');
      expect((await patch).status).toBe(200);
      await within(Promise.all(streams.map((c) => c.connected)), 10_000, 'the streams saying they are connected');
      await mark();
      await writeElsewhere(t.db, other);
      await create(t.baseUrl, 'BUSY3');
      const all = await eventIds(t.db);
      for (const [i, c] of streams.entries()) {
        await until(
          () => c.events.some((e) => e.id === all.at(-1)),
          10_000,
          () => `a stream has events ${ids(c).join(',')}`,
        );
        // A tail of the table (in order, once, no gap) holding every event committed after the
        // stream said it was connected.
        const got = ids(c);
        expect(got).toEqual(all.slice(all.indexOf(got[0] as number)));
        expect(got).toEqual(expect.arrayContaining(all.filter((id) => id > (boundary[i] as number))));
      }
      for (const c of streams) c.destroy();
    } finally {
      await locker.end();
    }
  });
});
