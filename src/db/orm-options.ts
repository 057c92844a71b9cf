import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import pg from 'pg';
import { Patient } from '../patients/patient.entity.ts';
import { PatientEvent } from '../patients/patient-event.entity.ts';
import { PatientRead } from '../patients/patient-read.entity.ts';
import { connectionStringWithoutQuery, type PgSsl } from './tls.ts';

const root = (dir: string) => fileURLToPath(new URL(`../../${dir}`, import.meta.url));

/**
 * Running from the TypeScript sources (tsx: tests, the MikroORM CLI) or from the built bundle
 * (dist/src/main.cjs, what `npm start` runs). The bundle loads the migrations compiled to
 * dist/migrations/*.js by `npm run build`: plain Node cannot import the .ts files.
 */
const FROM_TYPESCRIPT = import.meta.url.endsWith('.ts');
const MIGRATIONS_DIR = root('migrations');
const MIGRATIONS_JS_DIR = root('dist/migrations');
/** Where the migrations this process runs are. */
export const MIGRATIONS_RUNTIME_DIR = FROM_TYPESCRIPT ? MIGRATIONS_DIR : MIGRATIONS_JS_DIR;
const SEEDERS_DIR = root('seeders');
export const MIGRATIONS_TABLE = 'mikro_orm_migrations';

export interface OrmOptionsInput {
  clientUrl: string;
  poolMax: number;
  /** Time limits; defaults suit the CLI (no statement timeout for long migrations). */
  timeouts?: { statementMs: number; acquireMs: number; connectMs: number };
  /**
   * MikroORM extensions to register (the CLI passes Migrator and SeedManager). The server loads
   * the Migrator only when it has migrations to apply: it is a large module tree to load at start.
   */
  extensions?: Options['extensions'];
  /**
   * Connections made in-process instead of over TCP (the embedded database: node-postgres'
   * `stream` option); the URL then only names the user and database.
   */
  stream?: () => Duplex;
  /**
   * node-postgres' `ssl` option for a server (see tls.ts): MikroORM drops the URL's `sslmode` and
   * `sslrootcert`, so TLS has to come this way. Unset for the embedded database.
   */
  ssl?: PgSsl;
  /** Receives MikroORM's own messages (migrations applied, ...); default: the console. */
  log?: (message: string) => void;
}

/** node-postgres settings of every connection, MikroORM's and the request pool's alike. */
function connectionSettings({ stream, ssl, timeouts }: Pick<OrmOptionsInput, 'stream' | 'ssl' | 'timeouts'>) {
  return {
    application_name: 'health-management-api',
    keepAlive: true,
    ...(stream ? { stream } : {}),
    ...(ssl !== undefined ? { ssl } : {}),
    ...(timeouts
      ? {
          statement_timeout: timeouts.statementMs,
          query_timeout: timeouts.statementMs + 1000,
          connectionTimeoutMillis: timeouts.connectMs,
        }
      : {}),
  };
}

/**
 * The request paths' own pool (sql-client.ts): same server, TLS and limits as MikroORM's. Getting
 * a connection, free or new, is bounded by the acquire timeout (pg-pool applies its
 * `connectionTimeoutMillis` to the wait and to connecting a new client).
 */
export function createRequestPool({ clientUrl, poolMax, timeouts, stream, ssl }: OrmOptionsInput): pg.Pool {
  const pool = new pg.Pool({
    ...connectionSettings({ stream, ssl, timeouts }),
    // MikroORM reads only user, password, host, port and database from the URL; so does this pool
    // (TLS comes through `ssl`, never from the URL's sslmode).
    connectionString: connectionStringWithoutQuery(clientUrl),
    max: poolMax,
    min: 0,
    // Like knex's acquire timeout before it: the whole wait for a connection, making one included.
    ...(timeouts ? { connectionTimeoutMillis: timeouts.acquireMs } : {}),
  });
  // A connection that breaks while idle is dropped by the pool; the next statement connects anew.
  pool.on('error', () => undefined);
  // One that breaks while checked out (a failover, pg_terminate_backend) fails its statement,
  // which the SQL client answers and drops it; node-postgres also emits 'error' on the client,
  // which pg-pool does not listen to then: without this the process would crash.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * One connection of its own, outside every pool (the live updates' LISTEN connection): same
 * server, TLS and connect timeout, no statement timeout (it only listens), its own application name.
 */
export function createDedicatedClient({ clientUrl, timeouts, stream, ssl }: Omit<OrmOptionsInput, 'poolMax'>): pg.Client {
  return new pg.Client({
    ...connectionSettings({ stream, ssl }),
    application_name: 'health-management-api-listen',
    ...(timeouts ? { connectionTimeoutMillis: timeouts.connectMs } : {}),
    connectionString: connectionStringWithoutQuery(clientUrl),
  });
}

/**
 * The one MikroORM configuration, shared by the server, the CLI (`mikro-orm.config.ts`) and tests.
 * `debug` stays off: MikroORM's query log prints parameter values, i.e. patient data.
 */
export function createOrmOptions({ clientUrl, poolMax, log, timeouts, stream, ssl, extensions = [] }: OrmOptionsInput): Options {
  return defineConfig({
    clientUrl,
    entities: [Patient, PatientEvent, PatientRead],
    debug: false,
    colors: !log,
    ...(log ? { logger: log } : {}),
    allowGlobalContext: false,
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: true },
    // Bounded waits: a request fails fast (503) instead of hanging when the database is away.
    pool: { min: 0, max: poolMax, ...(timeouts ? { acquireTimeoutMillis: timeouts.acquireMs } : {}) },
    driverOptions: {
      // knex reports pool/connection trouble through its own logger (console by default).
      log: {
        warn: () => log?.('database connection warning'),
        error: () => log?.('database connection error'),
        deprecate: () => undefined,
        debug: () => undefined,
      },
      connection: connectionSettings({ stream, ssl, timeouts }),
    },
    extensions,
    preferTs: FROM_TYPESCRIPT,
    migrations: {
      path: MIGRATIONS_JS_DIR,
      pathTs: MIGRATIONS_DIR,
      glob: '!(*.d).{js,ts}',
      tableName: MIGRATIONS_TABLE,
      transactional: true,
      allOrNothing: true,
      snapshot: true,
      snapshotName: '.snapshot-patients',
      emit: 'ts',
      fileName: (timestamp: string, name?: string) => `Migration${timestamp}${name ? `_${name}` : ''}`,
    },
    seeder: {
      path: SEEDERS_DIR,
      pathTs: SEEDERS_DIR,
      glob: '!(*.d).{js,ts}',
      defaultSeeder: 'DatabaseSeeder',
      emit: 'ts',
    },
  });
}
