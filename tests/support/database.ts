import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { servePglite } from './pglite-server.ts';
import { RESET_TABLES } from './reset.ts';

export { RESET_TABLES, resetSql } from './reset.ts';

/**
 * An isolated, empty database for one test file.
 * - With TEST_DATABASE_URL (a PostgreSQL server): a new database `hm_test_<random>`, dropped after.
 * - Without: an in-memory PGlite served over the wire protocol, exactly like the embedded mode.
 */
export interface TestDatabase {
  url: string;
  kind: 'postgres' | 'pglite';
  /** Runs SQL on a short-lived connection of its own. */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export const serverUrl = process.env.TEST_DATABASE_URL || undefined;

export async function createTestDatabase(): Promise<TestDatabase> {
  if (serverUrl) {
    const name = `hm_test_${randomBytes(6).toString('hex')}`;
    await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      kind: 'postgres',
      query: (sql, params) => withClient(url.toString(), async (c) => (await c.query(sql, params)).rows),
      drop: () => withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
    };
  }
  const embedded = await servePglite();
  return {
    url: embedded.url,
    kind: 'pglite',
    query: (sql, params) => withClient(embedded.url, async (c) => (await c.query(sql, params)).rows),
    drop: () => embedded.stop(),
  };
}

/**
 * For tests below the HTTP layer: a fresh test database, opened (and migrated) through the
 * service's own openDatabase, emptied before each test. Call it at the top of a test file.
 */
export function useOpenedTestDatabase() {
  const handle = {} as { tdb: TestDatabase; db: Database };
  beforeAll(async () => {
    handle.tdb = await createTestDatabase();
    handle.db = await openDatabase({
      databaseUrl: handle.tdb.url,
      dataDir: '',
      poolMax: 4,
      migrateOnStart: true,
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    await handle.db?.close();
    await handle.tdb?.drop();
  });
  beforeEach(() => handle.tdb.query(RESET_TABLES));
  return handle;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
