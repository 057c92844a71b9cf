import { readdir } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from 'pino';
import { formatImportProblems, formatImportSummary, ImportFileError, importPatients, readSeedFile } from '../patients/patient.import.ts';
import { createDataDir, prepareDataDir } from './data-dir.ts';
import { EMBEDDED_URL, type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.ts';
import { createDedicatedClient, createOrmOptions, createRequestPool, MIGRATIONS_RUNTIME_DIR, MIGRATIONS_TABLE } from './orm-options.ts';
import { createSqlClient, type SqlClient } from './sql-client.ts';
import { StartupError } from './startup-error.ts';
import { connectionStringWithoutQuery, databaseTls, type PgSsl, resolveSsl, type SslMode, tlsFailure } from './tls.ts';

export { StartupError } from './startup-error.ts';

export interface Database {
  readonly orm: MikroORM;
  /** Plain SQL on the request pool (sql-client.ts), for the request paths. */
  readonly sql: SqlClient;
  readonly kind: 'embedded' | 'external';
  /**
   * A new connection outside the pools (LISTEN), on a PostgreSQL server only: the embedded
   * database runs in this process, where writes announce themselves (live/live.ts).
   */
  newClient?(): pg.Client;
  /** One `select 1` round trip, false on failure or after `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A database reached without a URL of its own: the embedded one, in this thread or another. */
export interface Connector {
  /** New connections for node-postgres' `stream` option. */
  stream: () => Duplex;
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL server. Without it (and without `connector`): the embedded database in `dataDir`. */
  databaseUrl: string | undefined;
  /** PEM of the CA of the server's certificate (DATABASE_CA_CERT), besides the URL's sslrootcert. */
  databaseCaCert?: string | undefined;
  dataDir: string;
  /** json-server file imported when the embedded database is created (its first start). */
  seedFile?: string;
  /**
   * The embedded database opened elsewhere (by the cluster, for all of its threads). Its pending
   * migrations are applied when `migrateOnStart`.
   */
  connector?: Connector;
  poolMax: number;
  migrateOnStart: boolean;
  logger: Logger;
  timeouts?: { statementMs: number; acquireMs: number; connectMs: number };
  /** How long to wait for an unreachable database at start before giving up (0: no wait). */
  startupWaitMs?: number;
}

/** Advisory lock key that serialises migrations between instances starting together. */
const MIGRATION_LOCK = 'health-management-api:migrations';

/**
 * With a URL: connect to that PostgreSQL server (waiting up to `startupWaitMs` for it), and refuse
 * to start while migrations are pending unless `migrateOnStart`. Without one: open the embedded
 * PGlite in `dataDir` (created, migrated and seeded atomically on its first start; see
 * data-dir.ts), and apply any pending migrations.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let connector = opts.connector;
  if (!opts.databaseUrl && !connector) {
    embedded = await openEmbedded(opts);
    connector = { stream: embedded.connect };
  }
  const waitMs = opts.startupWaitMs ?? 0;
  const deadline = Date.now() + waitMs;
  let server: { url: string; mode: SslMode; ssl: PgSsl } | undefined;
  if (opts.databaseUrl && !connector) {
    // A TLS setting that cannot work stops the start here, before any connection is tried.
    const tls = databaseTls(opts.databaseUrl, opts.databaseCaCert);
    const ssl = await untilReachable(() => resolveSsl(tls, opts.timeouts?.connectMs ?? 2_000), {
      mode: tls.mode,
      deadline,
      waitMs,
      logger: opts.logger,
    });
    server = { url: opts.databaseUrl, mode: tls.mode, ssl };
  }
  let orm: MikroORM | undefined;
  let db: Database | undefined;
  try {
    orm = await MikroORM.init(
      createOrmOptions({
        clientUrl: opts.databaseUrl ?? EMBEDDED_URL,
        ...(connector ? { stream: connector.stream } : {}),
        ...(server ? { ssl: server.ssl } : {}),
        poolMax: opts.poolMax,
        ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
        log: (message) => opts.logger.debug({ component: 'orm' }, message),
      }),
    );
    const sql = createSqlClient({
      pool: createRequestPool({
        clientUrl: opts.databaseUrl ?? EMBEDDED_URL,
        ...(connector ? { stream: connector.stream } : {}),
        ...(server ? { ssl: server.ssl } : {}),
        poolMax: opts.poolMax,
        ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      }),
      maxWaitMs: opts.timeouts?.acquireMs ?? DEFAULT_ACQUIRE_MS,
    });
    const dedicated = server
      ? () => createDedicatedClient({ clientUrl: server.url, ssl: server.ssl, ...(opts.timeouts ? { timeouts: opts.timeouts } : {}) })
      : undefined;
    db = createDatabase(orm, sql, embedded, connector ? 'embedded' : 'external', dedicated);
    if (embedded) await applyMigrations(orm, { apply: true, logger: opts.logger });
    else if (connector) await applyMigrations(orm, { apply: opts.migrateOnStart, logger: opts.logger });
    else if (server) {
      const opened = db;
      await untilReachable(() => selectOne(opened, 2_000), { mode: server.mode, deadline, waitMs, logger: opts.logger });
      // Whether the connection is encrypted is worth a line: with sslmode=prefer it depends on the server.
      opts.logger.info({ sslmode: server.mode, tls: server.ssl !== false }, 'connected to the database');
      if (opts.migrateOnStart) await withMigrationLock(server, () => applyMigrations(orm!, { apply: true, logger: opts.logger }));
      else await applyMigrations(orm, { apply: false, logger: opts.logger });
    }
    return db;
  } catch (error) {
    if (db) await db.close().catch(() => undefined);
    else {
      await orm?.close(true).catch(() => undefined);
      await embedded?.stop().catch(() => undefined);
    }
    throw error;
  }
}

/** The embedded database in `dataDir`, created first if there is none yet. */
export async function openEmbedded(opts: Pick<OpenDatabaseOptions, 'dataDir' | 'seedFile' | 'logger'>): Promise<EmbeddedPostgres> {
  const dir = prepareDataDir(opts.dataDir);
  if (!dir.exists) {
    await createDataDir(dir.path, (temp) => firstStart(temp, opts));
    opts.logger.info({ dataDir: opts.dataDir }, 'created the embedded database');
  }
  return startEmbeddedPostgres(dir.path);
}

/**
 * Creates, migrates and seeds a new embedded database in `location`. Any failure says why in one
 * line (never a value from the seed file) and, through createDataDir, leaves nothing behind.
 */
async function firstStart(location: string, opts: Pick<OpenDatabaseOptions, 'dataDir' | 'seedFile' | 'logger'>) {
  const embedded = await startEmbeddedPostgres(location, { fresh: true });
  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init(
      createOrmOptions({
        clientUrl: EMBEDDED_URL,
        stream: embedded.connect,
        poolMax: 2,
        log: (m) => opts.logger.debug({ component: 'orm' }, m),
      }),
    );
    await applyMigrations(orm, { apply: true, logger: opts.logger });
    if (opts.seedFile) {
      const report = await importPatients(orm.em.fork(), await readSeedFile(opts.seedFile));
      for (const line of formatImportProblems(report)) opts.logger.warn(line);
      opts.logger.info(formatImportSummary(report));
    }
  } catch (error) {
    throw new StartupError(
      `The first start of the embedded database failed, so DATA_DIR ${opts.dataDir} was not created: ${firstStartProblem(error)}`,
    );
  } finally {
    await orm?.close(true).catch(() => undefined);
    await embedded.stop();
  }
}

function firstStartProblem(error: unknown): string {
  if (error instanceof ImportFileError) return `${error.message}. Fix DB_JSON and start again.`;
  if (error instanceof StartupError) return error.message;
  return `${error instanceof Error ? error.name : 'error'} while creating it.`;
}

/**
 * Start-up policy when the database is unreachable: retry `attempt` until `deadline`, then stop
 * with a clear message (never hang silently). A supervisor restarting the process gives the retry
 * loop. A TLS failure (untrusted certificate, TLS refused or required, ...) stops at once with
 * its reason: waiting would not change it.
 */
async function untilReachable<T>(
  attempt: () => Promise<T>,
  { mode, deadline, waitMs, logger }: { mode: SslMode; deadline: number; waitMs: number; logger: Logger },
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const tls = tlsFailure(error, mode);
      if (tls) throw tls;
      if (Date.now() >= deadline) {
        throw new StartupError(
          `Cannot reach the database named by DATABASE_URL (waited ${waitMs} ms). ` +
            'Check that PostgreSQL is running and reachable, then start again.',
        );
      }
      logger.warn({ attempt: n }, 'database not reachable yet: retrying');
      await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
    }
  }
}

/** One `select 1` round trip through the pool; rejects with the failure (ping only says false). */
async function selectOne(db: Database, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout expired'), { code: 'ETIMEDOUT' })), timeoutMs);
  });
  try {
    await Promise.race([db.sql.query('select 1'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Holds a PostgreSQL advisory lock on a connection of its own while `fn` runs, so instances
 * started together apply each migration exactly once (the second waits, then finds none pending).
 * Same server, same TLS as the pool.
 */
async function withMigrationLock<T>(server: { url: string; mode: SslMode; ssl: PgSsl }, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: connectionStringWithoutQuery(server.url),
    ssl: server.ssl,
    application_name: 'health-management-api:migrate',
  });
  client.on('error', () => undefined);
  await client.connect().catch((error: unknown) => {
    throw tlsFailure(error, server.mode) ?? error;
  });
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    return await fn();
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

async function applyMigrations(orm: MikroORM, { apply, logger }: { apply: boolean; logger: Logger }) {
  const pending = await pendingMigrations(orm);
  if (pending.length === 0) return;
  if (!apply) {
    throw new StartupError(
      `The database has ${pending.length} pending migration(s). ` +
        'Run `npx mikro-orm migration:up` with the same DATABASE_URL, or start with MIGRATE_ON_START=true.',
    );
  }
  const { Migrator } = await import('@mikro-orm/migrations');
  Migrator.register(orm);
  const applied = await orm.getMigrator().up();
  logger.info({ migrations: applied.map((m) => m.name) }, 'applied database migrations');
}

/**
 * The committed migrations (migrations/, or their build in dist/migrations/) not yet recorded in
 * MikroORM's migrations table. A quick check that needs neither the Migrator nor the migration
 * modules themselves; applying them goes through MikroORM's Migrator.
 */
async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  const strip = (name: string) => name.replace(/\.(ts|js)$/, '');
  const files = (await readdir(MIGRATIONS_RUNTIME_DIR)).filter((f) => /^Migration.*\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).map(strip);
  const connection = orm.em.getConnection();
  const [table] = await connection.execute<{ present: boolean }[]>(`select to_regclass('${MIGRATIONS_TABLE}') is not null as present`);
  if (!table?.present) return files.sort();
  const applied = new Set((await connection.execute<{ name: string }[]>(`select name from ${MIGRATIONS_TABLE}`)).map((r) => strip(r.name)));
  return files.filter((f) => !applied.has(f)).sort();
}

/** Without DB_ACQUIRE_TIMEOUT_MS (tools, tests): what knex's pool waited by default. */
const DEFAULT_ACQUIRE_MS = 60_000;

function createDatabase(
  orm: MikroORM,
  sql: SqlClient & { close(): Promise<void> },
  embedded: EmbeddedPostgres | undefined,
  kind: Database['kind'],
  newClient: (() => pg.Client) | undefined,
): Database {
  let closed = false;
  return {
    orm,
    sql,
    kind,
    ...(newClient ? { newClient } : {}),
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const query = sql
        .query('select 1', [], { urgent: true })
        .then(() => true as const)
        .catch(() => false as const);
      try {
        return await Promise.race([query, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await sql.close().catch(() => undefined);
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
