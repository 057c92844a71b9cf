/**
 * PostgreSQL over TLS: DATABASE_URL's `sslmode` / `sslrootcert` (libpq's meaning) and
 * DATABASE_CA_CERT, for the request pool, the migration lock, the CLI and the server process.
 *
 * The mapping and the failure messages are tested everywhere. The connections need a PostgreSQL
 * that accepts TLS only, with a certificate for `localhost` signed by a test CA: CI sets it up
 * with `scripts/ci/tls-postgres.sh`, which prints the two variables read here:
 *   TEST_TLS_DATABASE_URL  postgresql://postgres@localhost:5439/postgres (trust auth, no TLS parameters)
 *   TEST_TLS_CA_FILE       the test CA certificate (PEM)
 * Without them those tests are skipped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PeerCertificate, rootCertificates } from 'node:tls';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/database.ts';
import { toDatabaseError } from '../src/db/sql-client.ts';
import { DatabaseTlsError, databaseTls, type PgSsl, resolveSsl, tlsFailureReason } from '../src/db/tls.ts';
import { toApiError } from '../src/errors.ts';
import { servePglite } from './support/pglite-server.ts';
import { mikroOrm, startServerProcess } from './support/process.ts';

const TLS_URL = process.env.TEST_TLS_DATABASE_URL || undefined;
const CA_FILE = process.env.TEST_TLS_CA_FILE || undefined;

/** In every URL below: trust auth ignores it, and no output may ever contain it. */
const SECRET = 'ZZsecretZZ';
const dir = mkdtempSync(join(tmpdir(), 'tls-'));
/** Read, never parsed, by databaseTls: a PEM-shaped file is enough for the mapping tests. */
const FAKE_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const pemFile = join(dir, 'ca.pem');
writeFileSync(pemFile, FAKE_PEM);
const ENV_PEM = FAKE_PEM.replace('fake', 'envfake');

const at = (query: string, host = 'db.example') => `postgresql://app:${SECRET}@${host}:5432/health${query ? `?${query}` : ''}`;
const cert = (name: string) => ({ subject: { CN: name }, subjectaltname: `DNS:${name}` }) as unknown as PeerCertificate;

/** What an `ssl` option does, in words: compared as a table. */
function behaviour(ssl: PgSsl) {
  if (ssl === false) return 'plain';
  const ca = ssl.ca === undefined ? 'built-in CAs' : `${(ssl.ca as string[]).length} CA(s)`;
  if (!ssl.rejectUnauthorized) return 'encrypted, not verified';
  const check = ssl.checkServerIdentity;
  const host = !check
    ? 'no host check set'
    : check('db.example', cert('db.example'))
      ? 'wrong'
      : check('other.example', cert('other.example'))
        ? 'host checked'
        : 'any host';
  return `chain verified (${ca}), ${host}`;
}

describe('sslmode and sslrootcert → the node-postgres ssl option (libpq meaning)', () => {
  it.each([
    ['', undefined, 'prefer', 'encrypted, not verified'],
    ['sslmode=disable', undefined, 'disable', 'plain'],
    ['sslmode=disable', ENV_PEM, 'disable', 'plain'],
    ['sslmode=prefer', undefined, 'prefer', 'encrypted, not verified'],
    ['sslmode=require', undefined, 'require', 'encrypted, not verified'],
    // libpq: require with a root certificate verifies the chain (as verify-ca).
    [`sslmode=require&sslrootcert=${pemFile}`, undefined, 'require', 'chain verified (1 CA(s)), any host'],
    [`sslmode=prefer`, ENV_PEM, 'prefer', 'chain verified (1 CA(s)), any host'],
    [`sslmode=verify-ca&sslrootcert=${pemFile}`, undefined, 'verify-ca', 'chain verified (1 CA(s)), any host'],
    ['sslmode=verify-ca', ENV_PEM, 'verify-ca', 'chain verified (1 CA(s)), any host'],
    ['sslmode=verify-full', undefined, 'verify-full', 'chain verified (built-in CAs), host checked'],
    [`sslmode=verify-full&sslrootcert=${pemFile}`, ENV_PEM, 'verify-full', 'chain verified (2 CA(s)), host checked'],
    // A CA without sslmode: verify-full (libpq would only check the chain, and fall back to plain).
    [`sslrootcert=${pemFile}`, undefined, 'verify-full', 'chain verified (1 CA(s)), host checked'],
    ['', ENV_PEM, 'verify-full', 'chain verified (1 CA(s)), host checked'],
    // libpq 16+: sslrootcert=system means the public CAs and verify-full.
    ['sslrootcert=system', undefined, 'verify-full', 'chain verified (built-in CAs), host checked'],
    ['sslmode=verify-full&sslrootcert=system', undefined, 'verify-full', 'chain verified (built-in CAs), host checked'],
  ])('%s (DATABASE_CA_CERT %s) → %s: %s', (query, caCert, mode, expected) => {
    const tls = databaseTls(at(query), caCert);
    expect(tls.mode).toBe(mode);
    expect(behaviour(tls.ssl)).toBe(expected);
    expect({ host: tls.host, port: tls.port }).toEqual({ host: 'db.example', port: 5432 });
  });

  it('adds DATABASE_CA_CERT to the built-in list with sslrootcert=system', () => {
    const { ssl } = databaseTls(at('sslrootcert=system'), ENV_PEM);
    expect(ssl && (ssl.ca as string[]).length).toBe(rootCertificates.length + 1);
    expect(ssl && (ssl.ca as string[]).at(-1)).toBe(ENV_PEM);
  });

  it('verify-full checks the URL host itself, also for an IP address (node-postgres would check "localhost")', () => {
    const { ssl } = databaseTls(at('sslmode=verify-full', '127.0.0.1'), ENV_PEM);
    const check = ssl ? ssl.checkServerIdentity : undefined;
    expect(check?.('localhost', cert('localhost'))).toBeInstanceOf(Error);
    expect(check?.('localhost', { subject: {}, subjectaltname: 'IP Address:127.0.0.1' } as unknown as PeerCertificate)).toBeUndefined();
    expect(databaseTls(at('', '[::1]')).host).toBe('::1');
  });

  it.each([
    ['sslmode=ZZbogusZZ', /^DATABASE_URL: unknown sslmode; use one of disable, prefer, require, verify-ca, verify-full\.$/],
    ['sslmode=no-verify', /unknown sslmode/],
    ['sslmode=allow', /sslmode=allow is not supported/],
    ['sslmode=verify-ca', /sslmode=verify-ca needs the CA/],
    ['sslmode=require&sslrootcert=system', /sslrootcert=system requires sslmode=verify-full \(sslmode=require\)/],
    ['sslrootcert=/nonexistent/ZZpathZZ.crt', /cannot read the sslrootcert file \(ENOENT\)/],
    [`sslrootcert=${dir}`, /cannot read the sslrootcert file \(EISDIR\)/],
    ['sslcert=/x.crt&sslkey=/x.key', /client certificates \(sslcert, sslkey\) are not supported/],
    ['ssl=true', /use sslmode/],
  ])('%s is refused with a message naming DATABASE_URL and no value', (query, message) => {
    let error: unknown;
    try {
      databaseTls(at(query));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatabaseTlsError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text).toMatch(/^DATABASE_URL: /);
    for (const value of [SECRET, 'ZZbogusZZ', 'ZZpathZZ', 'db.example', dir]) expect(text).not.toContain(value);
  });

  it('a file without a PEM certificate is refused', () => {
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(() => databaseTls(at(`sslrootcert=${notPem}`))).toThrow(/sslrootcert file holds no PEM certificate/);
  });

  it('names the reason of TLS failures, and only of those; at run time they are 503s', () => {
    const failure = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    expect(tlsFailureReason(failure('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'))).toBe(
      'server certificate not trusted',
    );
    expect(tlsFailureReason(failure('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe(
      'server certificate not trusted',
    );
    expect(tlsFailureReason(failure("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'))).toBe(
      'server certificate does not match the host name',
    );
    expect(tlsFailureReason(failure('certificate has expired', 'CERT_HAS_EXPIRED'))).toBe('server certificate expired or not yet valid');
    expect(tlsFailureReason(failure('The server does not support SSL connections'))).toBe('server does not accept TLS');
    expect(tlsFailureReason(failure('pg_hba.conf rejects connection for host "h", user "u", database "d", no encryption', '28000'))).toBe(
      'TLS is required by the server',
    );
    expect(tlsFailureReason(new Error('wrapped', { cause: failure('x', 'DEPTH_ZERO_SELF_SIGNED_CERT') }))).toBe(
      'server certificate not trusted',
    );
    for (const other of [
      failure('connect ECONNREFUSED', 'ECONNREFUSED'),
      failure('password authentication failed', '28P01'),
      failure('no pg_hba.conf entry', '28000'),
      'text',
    ]) {
      expect(tlsFailureReason(other)).toBeUndefined();
    }
    // The SQL client turns such a failure into DatabaseUnavailableError, which the error table answers with 503.
    expect(toApiError(toDatabaseError(failure('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).code).toBe(
      'SERVICE_UNAVAILABLE',
    );
  });
});

describe('sslmode=prefer asks the server once whether it offers TLS', () => {
  /** A fake server that answers an SSLRequest with `answer`, or hangs up. */
  async function fakeServer(answer: 'S' | 'N' | 'hang up'): Promise<{ port: number; requests: Buffer[]; close(): Promise<void> }> {
    const requests: Buffer[] = [];
    const server: Server = createServer((socket) => {
      socket.once('data', (data) => {
        requests.push(data);
        if (answer === 'hang up') socket.destroy();
        else socket.write(answer);
        // After S the client starts a TLS handshake this fake cannot do: it hangs up.
        if (answer === 'S') socket.once('data', () => socket.destroy());
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as { port: number }).port, requests, close: () => new Promise((r) => server.close(() => r())) };
  }
  const prefer = (port: number) => databaseTls(`postgresql://u:${SECRET}@127.0.0.1:${port}/d`);

  it('TLS when the server says S, plain when it says N; an SSLRequest is all it sends', async () => {
    for (const [answer, expected] of [
      ['S', 'encrypted, not verified'],
      ['N', 'plain'],
    ] as const) {
      const server = await fakeServer(answer);
      try {
        expect(behaviour(await resolveSsl(prefer(server.port), 2_000))).toBe(expected);
        expect(server.requests[0]?.toString('hex')).toBe('0000000804d2162f');
      } finally {
        await server.close();
      }
    }
  });

  it('an unreachable server is an error (the caller waits and retries), not "no TLS"', async () => {
    const server = await fakeServer('hang up');
    await expect(resolveSsl(prefer(server.port), 2_000)).rejects.toMatchObject({ code: 'ECONNRESET' });
    await server.close();
    await expect(resolveSsl(prefer(server.port), 2_000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('the embedded-style PGlite server (no TLS): prefer connects in plain text, require fails at once and says why', async () => {
    const pglite = await servePglite(4);
    const url = new URL(pglite.url);
    url.password = SECRET;
    try {
      const db = await openDatabase({
        databaseUrl: url.toString(),
        dataDir: '',
        poolMax: 2,
        migrateOnStart: true,
        logger: pino({ level: 'silent' }),
      });
      await db.close();
      url.searchParams.set('sslmode', 'require');
      const started = Date.now();
      const error = await openDatabase({
        databaseUrl: url.toString(),
        dataDir: '',
        poolMax: 2,
        migrateOnStart: true,
        logger: pino({ level: 'silent' }),
        startupWaitMs: 10_000,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseTlsError);
      expect((error as Error).message).toBe(
        'Cannot connect to the database named by DATABASE_URL (sslmode=require): server does not accept TLS; enable TLS on the server, or use sslmode=prefer or disable.',
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await pglite.stop();
    }
  });
});

describe.runIf(TLS_URL && CA_FILE)('against a PostgreSQL that accepts TLS only', () => {
  const caFile = CA_FILE!;
  const caPem = () => readFileSync(caFile, 'utf8');
  const admin = () => new pg.Client({ connectionString: TLS_URL, ssl: { ca: caPem() } });
  const names: string[] = [];
  let appDb: string;
  let cliDb: string;

  /** A URL of a test database on the TLS server, with a password it ignores and the given query. */
  const dbUrl = (name: string, query: string, host = 'localhost') => {
    const url = new URL(TLS_URL!);
    url.hostname = host;
    url.password = SECRET;
    url.pathname = `/${name}`;
    url.search = query;
    return url.toString();
  };
  const open = (url: string, extra: { databaseCaCert?: string; startupWaitMs?: number } = {}) =>
    openDatabase({ databaseUrl: url, dataDir: '', poolMax: 2, migrateOnStart: true, logger: pino({ level: 'silent' }), ...extra });
  /** Opens, asks PostgreSQL whether this very connection is encrypted, closes. */
  const encrypted = async (url: string, extra: { databaseCaCert?: string } = {}) => {
    const db: Database = await open(url, extra);
    try {
      const [row] = await db.sql.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
      return row?.ssl;
    } finally {
      await db.close();
    }
  };
  /** The start-up failure, checked for the secret, and how long it took. */
  const failure = async (url: string, extra: { databaseCaCert?: string } = {}) => {
    const started = Date.now();
    const error = await open(url, { startupWaitMs: 10_000, ...extra }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseTlsError);
    const message = (error as Error).message;
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain(caFile);
    // A TLS failure is reported at once, not after STARTUP_DB_WAIT_MS of retries.
    expect(Date.now() - started).toBeLessThan(5_000);
    return message;
  };

  beforeAll(async () => {
    const client = admin();
    await client.connect();
    try {
      for (const kind of ['app', 'cli']) {
        const name = `hm_tls_${kind}_${randomBytes(5).toString('hex')}`;
        await client.query(`create database "${name}"`);
        names.push(name);
      }
    } finally {
      await client.end();
    }
    [appDb, cliDb] = names as [string, string];
  });
  afterAll(async () => {
    const client = admin();
    await client.connect();
    for (const name of names) await client.query(`drop database if exists "${name}" with (force)`);
    await client.end();
  });

  it('verify-full with sslrootcert: migrates (lock connection included) and queries over TLS', async () => {
    expect(await encrypted(dbUrl(appDb, `sslmode=verify-full&sslrootcert=${caFile}`))).toBe(true);
  });

  it('verify-full with the CA as DATABASE_CA_CERT text', async () => {
    expect(await encrypted(dbUrl(appDb, 'sslmode=verify-full'), { databaseCaCert: caPem() })).toBe(true);
  });

  it('require connects without any CA (encrypted, not verified)', async () => {
    expect(await encrypted(dbUrl(appDb, 'sslmode=require'))).toBe(true);
  });

  it('no sslmode (prefer) uses the TLS the server offers', async () => {
    expect(await encrypted(dbUrl(appDb, ''))).toBe(true);
  });

  it('verify-ca with the CA passes for a host name the certificate does not hold', async () => {
    expect(await encrypted(dbUrl(appDb, `sslmode=verify-ca&sslrootcert=${caFile}`, '127.0.0.1'))).toBe(true);
  });

  it('verify-full without the CA fails at once: certificate not trusted', async () => {
    expect(await failure(dbUrl(appDb, 'sslmode=verify-full'))).toBe(
      'Cannot connect to the database named by DATABASE_URL (sslmode=verify-full): server certificate not trusted; ' +
        'give the CA that signed it as sslrootcert=<file> in DATABASE_URL or as DATABASE_CA_CERT.',
    );
  });

  it('verify-full to a host name not in the certificate fails at once', async () => {
    expect(await failure(dbUrl(appDb, `sslmode=verify-full&sslrootcert=${caFile}`, '127.0.0.1'))).toBe(
      'Cannot connect to the database named by DATABASE_URL (sslmode=verify-full): server certificate does not match the host name; ' +
        'connect by a name the certificate holds, or use sslmode=verify-ca.',
    );
    expect(await failure(dbUrl(appDb, 'sslmode=verify-full', '127.0.0.1'), { databaseCaCert: caPem() })).toMatch(
      /does not match the host name/,
    );
  });

  it('disable is refused by the TLS-only server, and said so', async () => {
    expect(await failure(dbUrl(appDb, 'sslmode=disable'))).toBe(
      'Cannot connect to the database named by DATABASE_URL (sslmode=disable): TLS is required by the server; use sslmode=require or stronger.',
    );
  });

  it('the CLI migrates and seeds over TLS, and reports a TLS failure without the password', async () => {
    const url = dbUrl(cliDb, `sslmode=verify-full&sslrootcert=${caFile}`);
    const up = await mikroOrm(['migration:up'], { DATABASE_URL: url });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const seedFile = join(dir, 'db.json');
    const patient = (id: number) => ({
      id,
      patientID: `TLS${id}`,
      name: `Tee Ell ${id}`,
      age: 40,
      gender: 'Other',
      medicalCondition: 'None',
      lastVisit: '2024-05-05',
    });
    writeFileSync(seedFile, JSON.stringify({ patients: [patient(1), patient(2)] }));
    const seed = await mikroOrm(['seeder:run'], { DATABASE_URL: url, DB_JSON: seedFile });
    expect(seed.code, seed.stdout + seed.stderr).toBe(0);
    expect(seed.stdout).toContain('inserted 2');
    const check = await mikroOrm(['migration:check'], { DATABASE_URL: url });
    expect(check.code, check.stdout + check.stderr).toBe(0);

    const client = new pg.Client({ connectionString: dbUrl(cliDb, ''), ssl: { ca: caPem() } });
    await client.connect();
    try {
      const { rows } = await client.query<{ patient_id: string }>('select patient_id from patients order by id');
      expect(rows.map((r) => r.patient_id)).toEqual(['TLS1', 'TLS2']);
    } finally {
      await client.end();
    }

    const bad = await mikroOrm(['migration:pending'], { DATABASE_URL: dbUrl(cliDb, 'sslmode=verify-full') });
    expect(bad.code).not.toBe(0);
    const text = bad.stdout + bad.stderr;
    expect(text).toContain('DATABASE_URL (sslmode=verify-full): server certificate not trusted');
    expect(text).not.toContain(SECRET);
  });

  it('the server process starts with verify-full + sslrootcert and MIGRATE_ON_START, serves /health and a POST', async () => {
    const server = startServerProcess({
      DATABASE_URL: dbUrl(appDb, `sslmode=verify-full&sslrootcert=${caFile}`),
      MIGRATE_ON_START: 'true',
      WORKERS: '2',
    });
    try {
      const port = await server.listening;
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      const created = await fetch(`http://127.0.0.1:${port}/patients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          patientID: 'TLSP',
          name: 'Tee Ell Ess',
          age: 41,
          gender: 'Female',
          medicalCondition: 'None',
          lastVisit: '2024-05-06',
        }),
      });
      expect(created.status).toBe(201);
      expect(server.output()).toMatch(/"sslmode":"verify-full","tls":true,"msg":"connected to the database"/);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
    expect(server.output()).not.toContain(SECRET);
  });

  it('a server process with a TLS problem exits 1 at once with one fatal line naming DATABASE_URL', async () => {
    for (const [query, reason] of [
      ['sslmode=verify-full', 'server certificate not trusted'],
      ['sslmode=disable', 'TLS is required by the server'],
      ['sslmode=ZZbogusZZ', 'unknown sslmode'],
    ] as const) {
      const started = Date.now();
      const server = startServerProcess({ DATABASE_URL: dbUrl(appDb, query), STARTUP_DB_WAIT_MS: '30000' });
      expect(await server.exited).toBe(1);
      expect(Date.now() - started).toBeLessThan(15_000);
      const output = server.output();
      const fatal = output.split('\n').filter((line) => line.includes('"level":"fatal"'));
      expect(fatal, output).toHaveLength(1);
      expect(fatal[0]).toContain('DATABASE_URL');
      expect(fatal[0]).toContain(reason);
      for (const value of [SECRET, 'ZZbogusZZ', appDb]) expect(output).not.toContain(value);
    }
  });
});
