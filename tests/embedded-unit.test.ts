/**
 * The embedded database's parts in this process: the DATA_DIR lock's rules one by one, the
 * directory checks, and PGlite reached through in-process streams (the same path the service
 * takes, without a server process around it).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDataDir, prepareDataDir } from '../src/db/data-dir.ts';
import { acquireDataDirLock, DataDirLockedError, lockPathFor } from '../src/db/data-dir-lock.ts';
import { openDatabase } from '../src/db/database.ts';
import { EMBEDDED_URL, startEmbeddedPostgres } from '../src/db/embedded.ts';
import { StartupError } from '../src/db/startup-error.ts';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'unit-')), 'data');
const holder = (fields: Record<string, unknown>) => JSON.stringify({ host: hostname(), started: '', token: 'other', ...fields });

describe('DATA_DIR lock', () => {
  it('is taken once: a second acquire in the same process is refused with the pid, and release frees it', () => {
    const dir = fresh();
    const lock = acquireDataDirLock(dir);
    expect(statSync(lockPathFor(dir)).mode & 0o777).toBe(0o600);
    expect(() => acquireDataDirLock(dir)).toThrow(DataDirLockedError);
    expect(() => acquireDataDirLock(dir)).toThrow(`(pid ${process.pid})`);
    lock.release();
    expect(existsSync(lockPathFor(dir))).toBe(false);
    acquireDataDirLock(dir).release();
  });

  it('takes over the lock of a process that is gone', async () => {
    const dir = fresh();
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    writeFileSync(lockPathFor(dir), holder({ pid: deadPid }));
    const lock = acquireDataDirLock(dir);
    expect(JSON.parse(readFileSync(lockPathFor(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('refuses while the holder lives, even as another user (EPERM), and on another host', async () => {
    const dir = fresh();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      // No start time recorded: a live pid counts as the holder.
      writeFileSync(lockPathFor(dir), holder({ pid: child.pid }));
      expect(() => acquireDataDirLock(dir)).toThrow(`(pid ${child.pid})`);
    } finally {
      child.kill('SIGKILL');
    }
    writeFileSync(lockPathFor(dir), holder({ pid: 1, host: 'elsewhere.example' }));
    expect(() => acquireDataDirLock(dir)).toThrow('on host elsewhere.example');
  });

  it('a pid reused by an unrelated process (different start time) is not the holder', () => {
    const dir = fresh();
    // pid 1 is alive, but it did not start at this time.
    writeFileSync(lockPathFor(dir), holder({ pid: 1, started: 'another-boot:42' }));
    if (!existsSync('/proc/1/stat')) return; // start times are read from /proc (Linux)
    const lock = acquireDataDirLock(dir);
    lock.release();
  });

  it('an unreadable lock file (not ours, corrupt) is taken over', () => {
    const dir = fresh();
    writeFileSync(lockPathFor(dir), '{"half');
    acquireDataDirLock(dir).release();
  });

  it('release leaves a lock that is no longer ours alone', () => {
    const dir = fresh();
    const lock = acquireDataDirLock(dir);
    writeFileSync(lockPathFor(dir), holder({ pid: 12345, token: 'someone-else' }));
    lock.release();
    expect(existsSync(lockPathFor(dir))).toBe(true);
  });
});

describe('DATA_DIR checks', () => {
  it('a new directory: not there yet; created whole by createDataDir, private', async () => {
    const dir = fresh();
    expect(prepareDataDir(dir)).toEqual({ path: dir, exists: false });
    await createDataDir(dir, async (temp) => {
      writeFileSync(join(temp, 'PG_VERSION'), '18\n');
    });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(prepareDataDir(dir)).toEqual({ path: dir, exists: true });
  });

  it('a failed build leaves nothing, and its error goes through', async () => {
    const dir = fresh();
    await expect(
      createDataDir(dir, async (temp) => {
        writeFileSync(join(temp, 'half'), 'x');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${dir}.new`)).toBe(false);
  });

  it('refuses a file, a writable-by-others directory, and a non-empty one without a database', () => {
    const root = mkdtempSync(join(tmpdir(), 'unit-'));
    writeFileSync(join(root, 'file'), '');
    expect(() => prepareDataDir(join(root, 'file'))).toThrow(StartupError);
    mkdirSync(join(root, 'open'));
    chmodSync(join(root, 'open'), 0o777);
    expect(() => prepareDataDir(join(root, 'open'))).toThrow('writable by group or others');
    mkdirSync(join(root, 'other'), { mode: 0o700 });
    writeFileSync(join(root, 'other', 'notes.txt'), '');
    expect(() => prepareDataDir(join(root, 'other'))).toThrow('holds no database');
  });
});

describe('embedded PGlite through in-process streams', () => {
  it('serves many concurrent connections and transactions, each with its own answers, and refuses after stop', async () => {
    const embedded = await startEmbeddedPostgres('memory://');
    const connect = async () => {
      const client = new pg.Client({ connectionString: EMBEDDED_URL, stream: () => embedded.connect() } as pg.ClientConfig);
      client.on('error', () => undefined);
      await client.connect();
      return client;
    };
    try {
      const clients = await Promise.all([1, 2, 3, 4].map(connect));
      await clients[0]!.query('create table t (n int)');
      // Transactions of different connections never mix: each sees only its own uncommitted row.
      await Promise.all(
        clients.map(async (c, i) => {
          await c.query('begin');
          await c.query('insert into t values ($1)', [i]);
          const { rows } = await c.query<{ n: number }>('select n from t order by n');
          expect(rows.map((r) => r.n)).toEqual([i]);
          await c.query('rollback');
        }),
      );
      const many = await Promise.all(
        Array.from({ length: 40 }, (_, i) => clients[i % 4]!.query<{ n: number }>('select $1::int as n', [i])),
      );
      for (const [i, r] of many.entries()) expect(r.rows[0]!.n).toBe(i);
      // A connection that goes away mid-transaction leaves nothing behind.
      await clients[1]!.query('begin');
      await clients[1]!.query('insert into t values (99)');
      await clients[1]!.end();
      const { rows } = await clients[0]!.query<{ count: number }>('select count(*)::int as count from t');
      expect(rows[0]!.count).toBe(0);
      await Promise.all([clients[0], clients[2], clients[3]].map((c) => c!.end()));
    } finally {
      await embedded.stop();
    }
    await expect(connect()).rejects.toThrow();
  });

  it('openDatabase creates, migrates and seeds a new DATA_DIR (the first start), then opens it again as it is', async () => {
    const dir = fresh();
    const logger = pino({ level: 'silent' });
    const first = await openDatabase({
      databaseUrl: undefined,
      dataDir: dir,
      seedFile: 'seeders/db.json',
      poolMax: 2,
      migrateOnStart: false,
      logger,
    });
    try {
      expect(first.kind).toBe('embedded');
      expect(await first.ping(2000)).toBe(true);
      const [row] = await first.sql.query<{ n: number }>('select count(*)::int as n from patients');
      expect(row!.n).toBeGreaterThan(0);
      await first.sql.query("update patients set name = 'Changed' where id = 1");
    } finally {
      await first.close();
    }
    const again = await openDatabase({
      databaseUrl: undefined,
      dataDir: dir,
      seedFile: 'seeders/db.json',
      poolMax: 2,
      migrateOnStart: false,
      logger,
    });
    try {
      const [row] = await again.sql.query<{ name: string }>('select name from patients where id = 1');
      expect(row!.name).toBe('Changed'); // not seeded again
    } finally {
      await again.close();
    }
  });
});
