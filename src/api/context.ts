import type { TokenCheck } from '../auth.ts';
import type { Database } from '../db/database.ts';

/** What every procedure receives. Nothing in it is specific to a resource. */
export interface Context {
  /** The database: the health check pings it; resource routers run their services on `db.sql`. */
  db: Database;
  requestId: string;
  /** The request may use patient routes (auth off, or a valid bearer token). */
  authorized: boolean;
  /** Who changes are recorded as: the token's name, or `anonymous` when auth is off. */
  actor: string;
  /**
   * How the caller takes results that PostgreSQL can serialise itself (lists): `json-text` for
   * transports that write JSON, which then send a JsonText result as it is (core/json-text.ts);
   * `values` for in-process callers (createCaller), which get plain objects.
   */
  results: 'json-text' | 'values';
}

export interface RequestInfo {
  requestId: string;
  /** The Authorization header, as sent. */
  authorization: string | undefined;
  results: Context['results'];
}

export function createContextFactory({ db, tokens }: { db: Database; tokens: TokenCheck }) {
  return ({ requestId, authorization, results }: RequestInfo): Context => ({
    db,
    requestId,
    ...actorFields(tokens.actorOf(authorization)),
    results,
  });
}

const actorFields = (actor: string | undefined) => ({ authorized: actor !== undefined, actor: actor ?? 'unauthorized' });

export type CreateContext = ReturnType<typeof createContextFactory>;
