import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from 'pino';
import { readdir } from 'node:fs/promises';
import { createOrmOptions, MIGRATIONS_RUNTIME_DIR, MIGRATIONS_TABLE } from './orm-options.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts';
import { createSqlClient, type SqlClient } from './sql-client.ts';

export interface Database {
  readonly orm: MikroORM;
  /** Plain SQL on the ORM's pool, for the request paths. */
  readonly sql: SqlClient;
  readonly kind: 'embedded' | 'external';
  /** True when the embedded database was created by this start (it is empty until seeded). */
  readonly created: boolean;
  /** One `select 1` round trip, false on failure or after `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A start-up problem whose message tells the operator what to do. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface OpenDatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
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
 * to start while migrations are pending unless `migrateOnStart`. Without one: start the embedded
 * PGlite server and migrate it.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let clientUrl = opts.databaseUrl;
  if (!clientUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: opts.dataDir, maxConnections: opts.poolMax + 2 });
    clientUrl = embedded.url;
  }
  let orm: MikroORM | undefined;
  try {
    orm = await MikroORM.init(
      createOrmOptions({
        clientUrl,
        poolMax: opts.poolMax,
        ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
        log: (message) => opts.logger.debug({ component: 'orm' }, message),
      }),
    );
    const db = createDatabase(orm, embedded);
    if (!embedded) await waitForDatabase(db, opts.startupWaitMs ?? 0, opts.logger);
    if (embedded) await applyMigrations(orm, { apply: true, logger: opts.logger });
    else if (opts.migrateOnStart) await withMigrationLock(clientUrl, () => applyMigrations(orm!, { apply: true, logger: opts.logger }));
    else await applyMigrations(orm, { apply: false, logger: opts.logger });
    return db;
  } catch (error) {
    await orm?.close(true).catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * Start-up policy when the database is unreachable: retry for `waitMs`, then stop with a clear
 * message (never hang silently). A supervisor restarting the process gives the retry loop.
 */
async function waitForDatabase(db: Database, waitMs: number, logger: Logger) {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    if (await db.ping(2_000)) return;
    if (Date.now() >= deadline) {
      throw new StartupError(
        `Cannot reach the database named by DATABASE_URL (waited ${waitMs} ms). ` +
          'Check that PostgreSQL is running and reachable, then start again.',
      );
    }
    logger.warn({ attempt }, 'database not reachable yet: retrying');
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Holds a PostgreSQL advisory lock on a connection of its own while `fn` runs, so instances
 * started together apply each migration exactly once (the second waits, then finds none pending).
 */
async function withMigrationLock<T>(clientUrl: string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: clientUrl, application_name: 'health-management-api:migrate' });
  client.on('error', () => undefined);
  await client.connect();
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

function createDatabase(orm: MikroORM, embedded: EmbeddedPostgres | undefined): Database {
  let closed = false;
  const sql = createSqlClient(orm);
  return {
    orm,
    sql,
    kind: embedded ? 'embedded' : 'external',
    created: embedded?.created ?? false,
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const query = sql
        .query('select 1')
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
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
