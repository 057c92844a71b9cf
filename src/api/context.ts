import type { TokenCheck } from '../auth.ts';
import type { Database } from '../db/database.ts';

/** What every procedure receives. Nothing in it is specific to a resource. */
export interface Context {
  /** The database: the health check pings it; resource routers run their services on `db.sql`. */
  db: Database;
  requestId: string;
  /** The request may use patient routes (auth off, or a valid bearer token). */
  authorized: boolean;
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
    authorized: tokens.allows(authorization),
    results,
  });
}

export type CreateContext = ReturnType<typeof createContextFactory>;
