/**
 * The SQL client on the request pool: concurrent parameterised statements each get their own
 * result (on PGlite, whose socket server interleaves connections' protocol messages, too), and
 * failures arrive as DatabaseError with their SQLSTATE; waiting for the database is bounded.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListQuery } from '../src/core/list-query.ts';
import { listJson, listJsonGroup, pageShape } from '../src/core/list-sql.ts';
import { type Row, recordSql } from '../src/core/record-sql.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { DatabaseBusyError } from '../src/db/errors.ts';
import { createSerialQueue } from '../src/db/group-queue.ts';
import { MAX_STATEMENTS } from '../src/db/sql-client.ts';
import { toApiError } from '../src/errors.ts';
import { patients } from '../src/patients/patient.fields.ts';
import { createTestDatabase, type TestDatabase, useOpenedTestDatabase } from './support/database.ts';

const opened = useOpenedTestDatabase();

describe('SQL client', () => {
  it('runs many concurrent parameterised statements, each answered with its own rows', async () => {
    // Three statement shapes, so a statement bound or executed for another query would show.
    const run = (i: number) => {
      switch (i % 3) {
        case 0:
          return opened.db.sql.query('select ?::int as n', [i]);
        case 1:
          return opened.db.sql.query('select ?::text as s, ?::int as n', [`text-${i}`, i]);
        default:
          return opened.db.sql.query('select n from generate_series(1, ?::int) as g(n) where n = ?::int', [i + 5, i]);
      }
    };
    const expected = (i: number) => (i % 3 === 1 ? [{ s: `text-${i}`, n: i }] : [{ n: i }]);
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(Array.from({ length: 90 }, (_, i) => run(i)));
      for (const [i, rows] of results.entries()) expect(rows).toEqual(expected(i));
    }
  });

  it('turns driver errors into DatabaseError with the SQLSTATE (no driver message), and keeps working after them', async () => {
    await opened.db.sql.query(
      "insert into patients (patient_id, name, age, gender, medical_condition, last_visit) values ('D1', 'n', 1, 'Male', 'c', '2024-01-01')",
    );
    const duplicate = opened.db.sql.query(
      "insert into patients (patient_id, name, age, gender, medical_condition, last_visit) values ('D1', 'n', 1, 'Male', 'c', '2024-01-01')",
    );
    await expect(duplicate).rejects.toMatchObject({
      name: 'DatabaseError',
      sqlState: '23505',
      message: 'Database statement failed (SQLSTATE 23505)',
    });
    expect(await opened.db.sql.query<{ c: number }>('select count(*)::int as c from patients')).toEqual([{ c: 1 }]);
  });
});

describe('prepared statements', () => {
  /** Another client of the test database, as another process would open it, on one connection. */
  const openOneConnection = () =>
    openDatabase({
      databaseUrl: opened.tdb.url,
      dataDir: '',
      poolMax: 1,
      migrateOnStart: false,
      logger: pino({ level: 'silent' }),
    });
  const OWN =
    "select name, statement from pg_prepared_statements where statement like '%pg_prepared_statements%' and statement like '%$1%' and ?::int > 0";

  it('prepares a text from its second run on, once per connection, on PostgreSQL; never on PGlite (one shared session)', async () => {
    // First run: unnamed (a one-off text takes no place), so it does not see itself prepared.
    expect(await opened.db.sql.query(OWN, [1])).toEqual([]);
    const seen = await opened.db.sql.query<{ name: string; statement: string }>(OWN, [1]);
    if (opened.tdb.kind === 'postgres') {
      expect(seen).toHaveLength(1);
      expect(seen[0]!.name).toMatch(/^hm_[0-9a-f]{24}$/);
      expect(seen[0]!.statement).toContain('$1::int > 0');
    } else {
      expect(seen).toEqual([]);
    }
  });

  it('gives a text the same name in every process (a name never means two texts behind a pooler)', async () => {
    if (opened.tdb.kind !== 'postgres') return;
    // Another process's client: it has seen other texts first, in another order.
    const other = await openOneConnection();
    try {
      await other.sql.query('select ?::int as warm_up', [1]);
      await other.sql.query('select ?::int as warm_up', [1]);
      await opened.db.sql.query(OWN, [1]);
      await other.sql.query(OWN, [1]);
      const [mine] = await opened.db.sql.query<{ name: string }>(OWN, [1]);
      const [theirs] = await other.sql.query<{ name: string }>(OWN, [1]);
      expect(theirs!.name).toBe(mine!.name);
    } finally {
      await other.close();
    }
  });

  it('binds a list of values as one array: the text does not change with the number of values', async () => {
    await opened.db.sql.query(
      "insert into patients (patient_id, name, age, gender, medical_condition, last_visit) select 'L' || n, 'n' || n, n, 'Other', 'c', '2024-01-01' from generate_series(1, 5) as g(n)",
    );
    const list = async (ids: number[]) =>
      JSON.parse(
        (
          await listJson(opened.db.sql, patients, {
            where: [{ op: 'in', field: 'id', values: ids }],
            sort: [],
            offset: 0,
            limit: null,
            withTotal: false,
          })
        ).json,
      ) as { id: number }[];
    expect((await list([2, 4])).map((p) => p.id)).toEqual([2, 4]);
    expect((await list([1, 3, 5])).map((p) => p.id)).toEqual([1, 3, 5]);
    if (opened.tdb.kind === 'postgres') {
      const named = await opened.db.sql.query<{ n: number }>(
        "select count(*)::int as n from pg_prepared_statements where statement like '%= any($1)%' and statement not like '%pg_prepared_statements%' and ?::int > 0",
        [1],
      );
      expect(named).toEqual([{ n: 1 }]);
    }
  });

  it('a statement whose cached plan PostgreSQL refuses after a column type change runs again, and the service goes on', async () => {
    await opened.tdb.query('create table if not exists plan_probe (a int)');
    await opened.tdb.query('truncate plan_probe');
    await opened.tdb.query('insert into plan_probe values (7)');
    const probe = () =>
      opened.db.sql.query<{ a: unknown; pid: number }>(
        'select a, pg_backend_pid() as pid, pg_sleep(0.02) is null as slept from plan_probe where a = ?',
        [7],
      );
    // Prepared on every pooled connection (4 at once), then the result type changes under them.
    const before = new Set((await Promise.all(Array.from({ length: 8 }, probe))).flat().map((r) => r.pid));
    await opened.tdb.query('alter table plan_probe alter column a type bigint');
    const after = await Promise.all(Array.from({ length: 8 }, probe));
    for (const rows of after) expect(rows).toHaveLength(1);
    const again = await Promise.all(Array.from({ length: 8 }, probe));
    for (const rows of again) expect(rows).toHaveLength(1);
    if (opened.tdb.kind === 'postgres') {
      // Connections that held the refused statement were dropped: the pool opened new ones.
      const pids = [...after, ...again].flat().map((r) => r.pid);
      expect(pids.some((pid) => !before.has(pid))).toBe(true);
    }
  });

  it('grouped statements run one generic plan whatever the group size, instead of being planned at every run', async () => {
    if (opened.tdb.kind !== 'postgres') return;
    // One connection, so every run below lands in the session whose prepared statements we read.
    const db = await openOneConnection();
    try {
      const records = recordSql<Row, Row>(patients);
      const audit = { actor: 'plan-test', requestId: null };
      const input = (n: number) => ({
        patientID: `G${n}`,
        name: `n${n}`,
        age: n % 100,
        gender: 'Other',
        medicalCondition: 'c',
        lastVisit: '2024-01-01',
      });
      const page = (offset: number): ListQuery => ({
        where: [{ op: 'in', field: 'gender', values: ['Other'] }],
        sort: [{ field: 'name', desc: false }],
        offset,
        limit: 2,
        withTotal: true,
      });
      const shape = pageShape(patients, page(0));
      // Ten runs of each grouped statement, the group size changing every run (1, 6, 11, 16, ...).
      for (let run = 0; run < 10; run++) {
        const size = 1 + (run % 4) * 5;
        const stored = await records.insertMany(
          db.sql,
          Array.from({ length: size }, (_, i) => input(run * 100 + i)),
          Array.from({ length: size }, () => audit),
        );
        const ids = stored.map((row) => row!.id as number);
        expect(await records.byIds(db.sql, ids)).toHaveLength(size);
        const changes = Array.from({ length: size }, (_, i) => ({ fields: { age: i }, op: 'update' as const, audit }));
        expect(await records.updateAll(db.sql, ids[0]!, changes)).toBeDefined();
        const slices = Array.from({ length: size }, (_, i) => page(i));
        expect(await listJsonGroup(db.sql, patients, shape, [{ where: shape.where, slices }])).toHaveLength(size);
      }
      const plans = await db.sql.query<{ statement: string; custom: number; generic: number }>(
        "select statement, custom_plans::int as custom, generic_plans::int as generic from pg_prepared_statements where (statement like '%unnest(%' or statement like '%= any(%') and statement not like '%pg_prepared_statements%' and ?::int > 0",
        [1],
      );
      expect(plans.map((p) => p.statement.match(/^\s*(with|select|update|insert)/)?.[1]).sort()).toEqual([
        'select',
        'select',
        'with',
        'with',
      ]);
      // The first run is unnamed; of the nine prepared runs, PostgreSQL plans the first five for
      // their values, then settles on the generic plan, whose cost no longer depends on the size.
      for (const p of plans) expect({ custom: p.custom, generic: p.generic }).toEqual({ custom: 5, generic: 4 });
    } finally {
      await db.close();
    }
  });

  // Last in this group: it uses up the names of this process.
  it('names at most MAX_STATEMENTS texts; texts past that run unnamed and still work', async () => {
    for (let i = 0; i < MAX_STATEMENTS + 20; i++) {
      for (let run = 0; run < 2; run++) {
        expect(await opened.db.sql.query<{ n: number; m: number }>(`select ${i}::int as n, ?::int as m`, [i + 1])).toEqual([
          { n: i, m: i + 1 },
        ]);
      }
    }
    if (opened.tdb.kind === 'postgres') {
      // Run one at a time, these statements reuse one pooled connection: it holds at most the cap.
      const [row] = await opened.db.sql.query<{ n: number }>(
        "select count(*)::int as n from pg_prepared_statements where name like 'hm\\_%' and ?::int > 0",
        [1],
      );
      expect(row!.n).toBeGreaterThan(100);
      expect(row!.n).toBeLessThanOrEqual(MAX_STATEMENTS);
    }
  });
});

describe('waiting for the database is bounded (DB_ACQUIRE_TIMEOUT_MS)', () => {
  let tdb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = await openDatabase({
      databaseUrl: tdb.url,
      dataDir: '',
      poolMax: 2,
      migrateOnStart: true,
      timeouts: { statementMs: 10_000, acquireMs: 300, connectMs: 2_000 },
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it('in a burst longer than the acquire timeout, late statements fail fast as "unavailable" (503) instead of queueing', async () => {
    // 1,000 statements of 10 ms on 2 connections (PostgreSQL) or one session (PGlite): about
    // 5 to 10 s of work. With a 300 ms acquire timeout, the early ones run and the rest fail fast.
    const results = await Promise.allSettled(Array.from({ length: 1_000 }, () => db.sql.query('select pg_sleep(0.01)')));
    const ran = results.filter((r) => r.status === 'fulfilled').length;
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ran).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(500);
    for (const { reason } of failed) {
      const mapped = toApiError(reason);
      expect(mapped.code).toBe('SERVICE_UNAVAILABLE');
      expect(mapped.message).toBe('Database unavailable');
    }
    // Nothing is left stuck: the database answers at once afterwards.
    expect(await db.sql.query('select 1 as n')).toEqual([{ n: 1 }]);
  });
});

describe('serial queue (PGlite statements one at a time)', () => {
  it('runs tasks one at a time in arrival order, whatever each one returns', async () => {
    const serial = createSerialQueue(1_000);
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) =>
      serial(async () => {
        running++;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`end ${name}`);
        running--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task('a'), task('b', true), task('c')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b', 'c']);
    expect(results[1]!.status).toBe('rejected');
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('an urgent task (the health check) runs right after the one running, before every task waiting', async () => {
    const serial = createSerialQueue(5_000);
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = serial(async () => {
      log.push('slow 0');
      await gate;
    });
    const waiting = [1, 2, 3].map((n) => serial(async () => void log.push(`slow ${n}`)));
    const urgent = serial(async () => void log.push('health'), true);
    release();
    await Promise.all([first, ...waiting, urgent]);
    expect(log).toEqual(['slow 0', 'health', 'slow 1', 'slow 2', 'slow 3']);
  });

  it('the health check on PGlite goes before queued statements (a burst of slow ones cannot delay it)', async () => {
    if (opened.tdb.kind !== 'pglite') return;
    const order: string[] = [];
    const slow = Array.from({ length: 5 }, (_, i) =>
      opened.db.sql.query('select pg_sleep(0.05), ?::int as n', [i]).then(() => order.push(`slow ${i}`)),
    );
    const ping = opened.db.ping(5_000).then((ok) => order.push(`ping ${ok}`));
    await Promise.all([...slow, ping]);
    expect(order.indexOf('ping true')).toBeLessThanOrEqual(1);
  });

  it('drops a task that waited longer than the timeout without running it, and keeps serving the rest', async () => {
    const serial = createSerialQueue(50);
    let release!: () => void;
    const blocker = serial(() => new Promise<void>((resolve) => (release = resolve)));
    let ranLate = false;
    const late = serial(async () => {
      ranLate = true;
    });
    await expect(late).rejects.toBeInstanceOf(DatabaseBusyError);
    release();
    await blocker;
    expect(ranLate).toBe(false);
    await expect(serial(async () => 'next')).resolves.toBe('next');
  });
});
