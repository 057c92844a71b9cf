import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { createOrmOptions } from './orm-options.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts';

export interface Database {
  readonly orm: MikroORM;
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
}

/**
 * With a URL: connect to that PostgreSQL server and refuse to start while migrations are pending
 * (unless `migrateOnStart`). Without one: start the embedded PGlite server and migrate it.
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
      createOrmOptions({ clientUrl, poolMax: opts.poolMax, log: (message) => opts.logger.debug({ component: 'orm' }, message) }),
    );
    await applyMigrations(orm, { apply: Boolean(embedded) || opts.migrateOnStart, logger: opts.logger });
  } catch (error) {
    await orm?.close(true).catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
  return createDatabase(orm, embedded);
}

async function applyMigrations(orm: MikroORM, { apply, logger }: { apply: boolean; logger: Logger }) {
  const migrator = orm.getMigrator();
  const pending = await migrator.getPendingMigrations();
  if (pending.length === 0) return;
  if (!apply) {
    throw new StartupError(
      `The database has ${pending.length} pending migration(s). ` +
        'Run `npx mikro-orm migration:up` with the same DATABASE_URL, or start with MIGRATE_ON_START=true.',
    );
  }
  const applied = await migrator.up();
  logger.info({ migrations: applied.map((m) => m.name) }, 'applied database migrations');
}

function createDatabase(orm: MikroORM, embedded: EmbeddedPostgres | undefined): Database {
  let closed = false;
  return {
    orm,
    kind: embedded ? 'embedded' : 'external',
    created: embedded?.created ?? false,
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const query = orm.em
        .getConnection()
        .execute('select 1')
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
