import { createHash } from 'node:crypto';
import pg from 'pg';
import { DatabaseBusyError, DatabaseError, DatabaseUnavailableError } from './errors.ts';
import { createSerialQueue } from './group-queue.ts';
import { tlsFailureReason } from './tls.ts';

/**
 * Plain SQL for the request paths, on a `pg.Pool` of the service's own (public node-postgres
 * API; MikroORM keeps its own small pool for migrations and the importer).
 *
 * `em.execute` would do the same work through two more layers (MikroORM formats the values into
 * the SQL text, knex re-parses it, wraps the call in its runner and logger): about a fifth of a
 * request's CPU time, measured. Here a statement goes straight to a pooled `pg` client with its
 * values bound as parameters, and a failure becomes DatabaseError (with its SQLSTATE),
 * DatabaseUnavailableError or DatabaseBusyError (db/errors.ts), which the error table answers.
 *
 * Limits: DB_ACQUIRE_TIMEOUT_MS bounds the wait for a connection, DB_STATEMENT_TIMEOUT_MS each
 * statement (statement_timeout on the server, query_timeout one second later on the client).
 */
export interface SqlClient {
  /**
   * Runs one statement with `?` placeholders and returns its rows. Values are always bound as
   * parameters, never written into `sql`: on PostgreSQL each distinct text is prepared once per
   * connection (parsed once; PostgreSQL may also settle on a generic plan for it).
   */
  query<R>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<R[]>;
  /**
   * How long a statement may wait for the database before it fails with DatabaseBusyError (503):
   * the pool's acquire timeout, DB_ACQUIRE_TIMEOUT_MS. Queues in front of the client keep to it too.
   */
  readonly maxWaitMs: number;
}

export interface QueryOptions {
  /**
   * Goes before every statement waiting for its turn on PGlite (which runs one at a time): the
   * health check's `select 1`, so that a burst of slow list queries cannot make `/health` wait
   * behind all of them. No effect on PostgreSQL, where statements run side by side.
   */
  urgent?: boolean;
}

interface Statement {
  /** The SQL with `$1, $2...` placeholders. */
  text: string;
  /** Prepared-statement name on PostgreSQL connections, from the text's second run on. */
  name: string | undefined;
  runs: number;
}

/**
 * Distinct statement texts a process names, so at most what one connection keeps prepared (a list
 * query with its plan is tens of kB in the PostgreSQL backend). A text is named on its second run:
 * one-off filter combinations never take a place. Past the cap, new texts run unnamed.
 */
export const MAX_STATEMENTS = 200;
/** Distinct texts whose `$n` form is kept (no name needed for that). */
const MAX_TEXTS = 2_000;

/**
 * The name depends on the text only: every process (and every instance behind a pooler that
 * keeps server sessions) gives one text the same name, and a name never stands for two texts.
 */
const statementName = (text: string) => `hm_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;

/**
 * PostgreSQL refused a prepared statement's cached plan ("cached plan must not change result
 * type" after a column type changed: 0A000), no longer has it (26000, e.g. after DISCARD ALL by a
 * pooler), or already has it from another client (42P05, a pooler sharing server sessions). The
 * statement did not run: it is safe to run again.
 */
const isStalePreparedStatement = (error: unknown) => {
  const { code, routine } = (error ?? {}) as { code?: unknown; routine?: unknown };
  return (code === '0A000' && routine === 'RevalidateCachedQuery') || code === '26000' || code === '42P05';
};

class StaleStatement extends Error {}

/** A pool's own "no connection in time" (pg-pool says it in its message only). */
const POOL_TIMEOUT = /timeout exceeded when trying to connect/;
/** node-postgres client-side failures that mean the connection is gone; their messages hold no data. */
const CONNECTION_LOST = /Connection terminated|Query read timeout|timeout expired|connection error|not queryable|Connection ended/i;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

/** A driver failure as one of db/errors.ts' classes; anything else (a bug) as it is. */
export function toDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseError || error instanceof DatabaseUnavailableError || error instanceof DatabaseBusyError) return error;
  if (error instanceof pg.DatabaseError && typeof error.code === 'string') return new DatabaseError(error.code, { cause: error });
  if (!(error instanceof Error)) return error;
  if (POOL_TIMEOUT.test(error.message)) return new DatabaseBusyError();
  const code = (error as { code?: unknown }).code;
  if ((typeof code === 'string' && SOCKET_CODES.has(code)) || tlsFailureReason(error) || CONNECTION_LOST.test(error.message)) {
    return new DatabaseUnavailableError({ cause: error });
  }
  return error;
}

export interface SqlClientOptions {
  pool: pg.Pool;
  /** The pool's wait for a connection (DB_ACQUIRE_TIMEOUT_MS): queues in front of it keep to it too. */
  maxWaitMs: number;
}

export function createSqlClient({ pool, maxWaitMs }: SqlClientOptions): SqlClient & { close(): Promise<void> } {
  /** Each distinct SQL text, with `?` turned into `$n` once, and its statement name. */
  const statements = new Map<string, Statement>();
  let named = 0;
  const statementFor = (sql: string): Statement => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      let n = 0;
      statement = { text: sql.replace(/\?/g, () => `$${++n}`), name: undefined, runs: 0 };
      if (statements.size < MAX_TEXTS) statements.set(sql, statement);
    }
    if (statement.name === undefined && ++statement.runs >= 2 && named < MAX_STATEMENTS) {
      statement.name = statementName(statement.text);
      named++;
    }
    return statement;
  };

  const acquire = async () => {
    try {
      return await pool.connect();
    } catch (error) {
      throw toDatabaseError(error);
    }
  };

  /**
   * PGlite (embedded, or served over a socket) runs every pooled connection in one backend session,
   * and pglite-socket interleaves the protocol messages of different connections one by one. Two
   * parameterised statements in flight at once could then bind each other's unnamed statement, and
   * a name prepared by one connection clashes with the next. So on PGlite statements run one at a
   * time (PGlite executes one at a time anyway) and are never named. Found out on the first query.
   * Their wait for a turn is bounded like a pool acquire (createSerialQueue).
   */
  let detecting: Promise<boolean> | undefined;
  const isPglite = () => {
    detecting ??= (async () => {
      const client = await acquire();
      try {
        const { rows } = await client.query<{ v: string }>('select version() as v');
        client.release();
        return String(rows[0]?.v).includes('PGlite');
      } catch (error) {
        client.release(true);
        throw error;
      }
    })().catch((error: unknown) => {
      detecting = undefined;
      throw toDatabaseError(error);
    });
    return detecting;
  };

  /** One statement on one pooled connection. */
  const runOnce = async <R>(text: string, values: unknown[], name: string | undefined): Promise<R[]> => {
    const client = await acquire();
    let broken = false;
    try {
      const result = await client.query<R & pg.QueryResultRow>(name ? { name, text, values } : { text, values });
      return result.rows;
    } catch (error) {
      const converted = toDatabaseError(error);
      // A connection that failed under us is not handed out again.
      broken = converted instanceof DatabaseUnavailableError;
      if (name && isStalePreparedStatement(error)) {
        // This connection's copy of the statement is unusable: drop the connection.
        broken = true;
        throw new StaleStatement();
      }
      throw converted;
    } finally {
      client.release(broken);
    }
  };

  const run = async <R>(text: string, values: unknown[], name: string | undefined): Promise<R[]> => {
    try {
      return await runOnce<R>(text, values, name);
    } catch (error) {
      // It did not run: once more, unnamed (planned afresh), on another connection.
      if (error instanceof StaleStatement) return runOnce<R>(text, values, undefined);
      throw error;
    }
  };

  /** On PGlite, statements wait here for their turn, as long as a pool acquire may wait. */
  const serial = createSerialQueue(maxWaitMs);
  /** Known after the first query (no extra await per query after that). */
  let onPglite: boolean | undefined;

  return {
    maxWaitMs,
    async query<R>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}): Promise<R[]> {
      const { text, name } = statementFor(sql);
      const values = params as unknown[];
      onPglite ??= await isPglite();
      if (!onPglite) return run<R>(text, values, name);
      return serial(() => run<R>(text, values, undefined), options.urgent);
    },
    close: () => pool.end(),
  };
}
