/**
 * The embedded database: nobody but the service can open a session on it, its files are private,
 * and its first start is all-or-nothing.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { fatalMessages, fetchFrom, type ServerProcess, startServerProcess } from './support/process.ts';

async function stop(server: ServerProcess) {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

/** The TCP ports and Unix socket paths process `pid` listens on (from /proc, Linux). */
function listeningSockets(pid: number): { tcp: number[]; unix: string[] } {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const tcp: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("ADDR:PORT" in hex), st is f[3] (0A: LISTEN), inode is f[9].
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) tcp.push(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  const unix: string[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Flags f[3] with __SO_ACCEPTCON (00010000) mark a listening socket; inode is f[6].
    if (f.length > 6 && (Number.parseInt(f[3]!, 16) & 0x10000) !== 0 && inodes.has(f[6]!)) unix.push(f[7] ?? '(unnamed)');
  }
  return { tcp, unix };
}

/** Tries to open a PostgreSQL session; resolves with the error, or undefined if it succeeded. */
async function pgSession(config: pg.ClientConfig): Promise<Error | undefined> {
  const client = new pg.Client({ ...config, user: 'anyone', password: 'wrong', database: 'postgres', connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select name from patients');
    return undefined;
  } catch (error) {
    return error as Error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Every file and directory under `dir` whose mode gives anything to group or others. */
function openToOthers(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const s = statSync(path);
    if ((s.mode & 0o077) !== 0) out.push(`${path} ${(s.mode & 0o777).toString(8)}`);
    if (s.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

describe('who can reach the embedded database', () => {
  it('the process listens on its HTTP port only: a PostgreSQL session on any other socket it has is impossible, and the HTTP port refuses the protocol', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'reach-')), 'data');
    const server = startServerProcess({ DATA_DIR: dataDir, WORKERS: '2' });
    const port = await server.listening;
    const { tcp, unix } = listeningSockets(server.child.pid!);
    expect(tcp).toEqual([port]);
    expect(unix).toEqual([]);
    for (const other of tcp.filter((p) => p !== port)) expect(await pgSession({ host: '127.0.0.1', port: other })).toBeInstanceOf(Error);
    expect(await pgSession({ host: '127.0.0.1', port })).toBeInstanceOf(Error);
    // The service itself reaches it (both threads).
    expect((await fetchFrom(server, port, '/patients/1')).status).toBe(200);
    await stop(server);
  });

  it('DATA_DIR is 0700 and nothing in it, nor the lock, is readable by group or others', async () => {
    const root = mkdtempSync(join(tmpdir(), 'modes-'));
    const dataDir = join(root, 'data');
    const server = startServerProcess({ DATA_DIR: dataDir });
    const port = await server.listening;
    expect(
      (
        await fetchFrom(server, port, '/patients', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            patientID: 'MODE1',
            name: 'Mode',
            age: 1,
            gender: 'Other',
            medicalCondition: 'None',
            lastVisit: '2024-01-01',
          }),
        })
      ).status,
    ).toBe(201);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(`${dataDir}.lock`).mode & 0o777).toBe(0o600);
    expect(openToOthers(dataDir)).toEqual([]);
    await stop(server);
    expect(openToOthers(dataDir)).toEqual([]);
  });

  it('a DATA_DIR made readable by an older version is tightened at start; a group/world-writable one is refused', async () => {
    const root = mkdtempSync(join(tmpdir(), 'legacy-'));
    const dataDir = join(root, 'data');
    const first = startServerProcess({ DATA_DIR: dataDir });
    await first.listening;
    await stop(first);
    // As an older version left it: 0755 directories, 0666 files.
    const loosen = (path: string) => {
      const s = statSync(path);
      chmodSync(path, s.isDirectory() ? 0o755 : 0o666);
      if (s.isDirectory()) for (const name of readdirSync(path)) loosen(join(path, name));
    };
    loosen(dataDir);
    const second = startServerProcess({ DATA_DIR: dataDir });
    await second.listening;
    expect(openToOthers(dataDir)).toEqual([]);
    await stop(second);

    chmodSync(dataDir, 0o777);
    const refused = startServerProcess({ DATA_DIR: dataDir });
    expect(await refused.exited).toBe(1);
    expect(fatalMessages(refused).join('\n')).toContain(`DATA_DIR ${dataDir} is writable by group or others`);
  });

  it('refuses to create a database in a non-empty directory that holds none', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'notdb-'));
    writeFileSync(join(dataDir, 'notes.txt'), 'mine');
    const server = startServerProcess({ DATA_DIR: dataDir });
    expect(await server.exited).toBe(1);
    expect(fatalMessages(server).join('\n')).toContain('is not empty and holds no database');
    expect(readdirSync(dataDir)).toEqual(['notes.txt']);
  });
});

describe('the first start is all or nothing', () => {
  const cases: [string, (dir: string) => string, string][] = [
    ['a missing DB_JSON', (dir) => join(dir, 'missing.json'), 'not found'],
    ['a DB_JSON that is not JSON', (dir) => write(join(dir, 'broken.json'), '{"patients": [{"name": "ZZ-PHI-MARKER"'), 'not valid JSON'],
    [
      'a DB_JSON of the wrong shape',
      (dir) => write(join(dir, 'shape.json'), JSON.stringify({ people: [{ name: 'ZZ-PHI-MARKER' }] })),
      'must be a JSON object with a "patients" array',
    ],
  ];
  it.each(cases)(
    '%s: exit 1 saying why (no value), nothing kept; the next start with a good file serves the sample',
    async (_name, makeFile, reason) => {
      const root = mkdtempSync(join(tmpdir(), 'first-'));
      const dataDir = join(root, 'data');
      const failed = startServerProcess({ DATA_DIR: dataDir, DB_JSON: makeFile(root) });
      expect(await failed.exited).toBe(1);
      const fatal = fatalMessages(failed);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toContain('The first start of the embedded database failed');
      expect(fatal[0]).toContain(reason);
      expect(failed.output()).not.toContain('ZZ-PHI-MARKER');
      expect(existsSync(dataDir)).toBe(false);
      expect(existsSync(`${dataDir}.new`)).toBe(false);

      const good = startServerProcess({ DATA_DIR: dataDir });
      const port = await good.listening;
      const list = (await (await fetchFrom(good, port, '/patients')).json()) as { patientID: string }[];
      expect(list[0]?.patientID).toBe('P001');
      await stop(good);
    },
  );

  it('the leftover of a first start killed half-way is cleared, and the database is created whole', async () => {
    const root = mkdtempSync(join(tmpdir(), 'killed-'));
    const dataDir = join(root, 'data');
    mkdirSync(`${dataDir}.new/base`, { recursive: true });
    writeFileSync(`${dataDir}.new/PG_VERSION`, '18\n');
    const server = startServerProcess({ DATA_DIR: dataDir });
    const port = await server.listening;
    expect(((await (await fetchFrom(server, port, '/patients')).json()) as unknown[]).length).toBeGreaterThan(0);
    expect(existsSync(`${dataDir}.new`)).toBe(false);
    await stop(server);
  });
});

function write(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}
