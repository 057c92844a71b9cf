import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';

/**
 * Plain SQL on MikroORM's own connection pool, for the request paths.
 *
 * `em.execute` would do the same work through two more layers (MikroORM formats the values into
 * the SQL text, knex re-parses it, wraps the call in its runner and logger): about a fifth of a
 * request's CPU time, measured. Here a statement goes straight to the pooled `pg` client with
 * its values bound as parameters, and a failure is converted by MikroORM's driver into the same
 * exception classes (`UniqueConstraintViolationException`, ...) the error boundary maps.
 *
 * Same pool, same limits: the acquire timeout, statement_timeout and query_timeout of the ORM
 * configuration apply unchanged.
 */
export interface SqlClient {
  /**
   * Runs one statement with `?` placeholders and returns its rows. A `name` makes it a prepared
   * statement on each connection (only for fixed SQL texts: PostgreSQL keeps the plan).
   */
  query<R>(sql: string, params?: readonly unknown[], name?: string): Promise<R[]>;
}

interface KnexClient {
  acquireConnection(): Promise<pg.PoolClient>;
  releaseConnection(connection: pg.PoolClient): Promise<unknown>;
}

export function createSqlClient(orm: MikroORM): SqlClient {
  const connection = orm.em.getConnection();
  const driver = orm.em.getDriver();
  const client = connection.getKnex().client as unknown as KnexClient;
  /** `?` -> `$n`, once per distinct text. Bounded: texts are built from a fixed set of fragments. */
  const positional = new Map<string, string>();

  const toPositional = (sql: string) => {
    let text = positional.get(sql);
    if (text === undefined) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      if (positional.size < 1_000) positional.set(sql, text);
    }
    return text;
  };

  /**
   * PGlite (embedded, or served over a socket) runs every pooled connection in one backend session,
   * and pglite-socket interleaves the protocol messages of different connections one by one. Two
   * parameterised statements in flight at once could then bind each other's unnamed statement, and
   * a name prepared by one connection clashes with the next. So on PGlite statements run one at a
   * time (PGlite executes one at a time anyway) and are never named. Found out on the first query.
   */
  let detecting: Promise<boolean> | undefined;
  const isPglite = () => {
    detecting ??= (async () => {
      const pgClient = await acquire();
      try {
        const { rows } = await pgClient.query<{ v: string }>('select version() as v');
        return String(rows[0]?.v).includes('PGlite');
      } finally {
        await client.releaseConnection(pgClient);
      }
    })().catch((error: unknown) => {
      detecting = undefined;
      throw error instanceof Error && error.name === 'KnexTimeoutError' ? error : driver.convertException(error as Error);
    });
    return detecting;
  };

  const acquire = async () => {
    try {
      return await client.acquireConnection();
    } catch (error) {
      // KnexTimeoutError (pool exhausted) or a failed connect: the boundary maps both to 503.
      throw error instanceof Error && error.name === 'KnexTimeoutError' ? error : driver.convertException(error as Error);
    }
  };

  const run = async <R>(text: string, values: unknown[], name: string | undefined): Promise<R[]> => {
    const pgClient = await acquire();
    try {
      const result = await pgClient.query<R & pg.QueryResultRow>(name ? { name, text, values } : { text, values });
      return result.rows;
    } catch (error) {
      throw driver.convertException(error as Error);
    } finally {
      await client.releaseConnection(pgClient);
    }
  };

  /** The last statement queued on PGlite: the next one starts when it has settled. */
  let serial: Promise<unknown> = Promise.resolve();
  /** Known after the first query (no extra await per query after that). */
  let onPglite: boolean | undefined;

  return {
    async query<R>(sql: string, params: readonly unknown[] = [], name?: string): Promise<R[]> {
      const text = toPositional(sql);
      const values = params as unknown[];
      onPglite ??= await isPglite();
      if (!onPglite) return run<R>(text, values, name);
      const result = serial.then(() => run<R>(text, values, undefined));
      serial = result.catch(() => undefined);
      return result;
    },
  };
}
