import type { TokenCheck } from '../auth.ts';
import type { Database } from '../db/database.ts';
import type { ReadAudit, ReadEntry } from '../db/read-audit.ts';
import type { Live } from '../live/live.ts';

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
  /** With AUDIT_READS: records an answer that carried patient data (actor and requests filled in). */
  recordRead?: (entry: Omit<ReadEntry, 'actor' | 'requestIds'>) => void;
  /** Live updates (subscriptions); absent for in-process callers. */
  live?: Live;
  /** Drops the request's connection (a subscriber that reads too slowly). */
  disconnect?: () => void;
}

export interface RequestInfo {
  requestId: string;
  /** Every request the answer goes to (identical concurrent GETs share one), when not just this one. */
  requestIds?: readonly string[];
  /** The Authorization header, as sent. */
  authorization: string | undefined;
  results: Context['results'];
  disconnect?: () => void;
}

export function createContextFactory({
  db,
  tokens,
  readAudit,
  live,
}: {
  db: Database;
  tokens: TokenCheck;
  readAudit?: ReadAudit;
  live?: Live;
}) {
  return ({ requestId, requestIds, authorization, results, disconnect }: RequestInfo): Context => {
    const ctx: Context = { db, requestId, ...actorFields(tokens.actorOf(authorization)), results };
    if (live) ctx.live = live;
    if (disconnect) ctx.disconnect = disconnect;
    if (readAudit) ctx.recordRead = (entry) => readAudit.record({ ...entry, actor: ctx.actor, requestIds: requestIds ?? [requestId] });
    return ctx;
  };
}

const actorFields = (actor: string | undefined) => ({ authorized: actor !== undefined, actor: actor ?? 'unauthorized' });

export type CreateContext = ReturnType<typeof createContextFactory>;
