import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from '../db/database.ts';

/** What every procedure receives. */
export interface Context {
  /** A request-scoped EntityManager: nothing cached in one request is seen by the next. */
  em: EntityManager;
  db: Database;
  requestId: string;
  /** The request as sent: path with query string, and Host header (json-server builds URLs from them). */
  http: { url: string; host: string | undefined };
  /** Headers a procedure wants on its REST response (X-Total-Count, Link, Location...). */
  responseHeaders: Record<string, string>;
}

export interface RequestInfo {
  requestId: string;
  url: string;
  host: string | undefined;
}

export function createContextFactory({ db }: { db: Database }) {
  return ({ requestId, url, host }: RequestInfo): Context => ({
    em: db.orm.em.fork() as EntityManager,
    db,
    requestId,
    http: { url, host },
    responseHeaders: {},
  });
}

export type CreateContext = ReturnType<typeof createContextFactory>;
