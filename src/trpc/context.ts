import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from '../db/database.ts';

/** What every procedure receives: a request-scoped EntityManager and the database handle. */
export interface Context {
  em: EntityManager;
  db: Database;
  requestId: string;
}

export interface ContextDeps {
  db: Database;
}

/** A fresh identity map per request: nothing cached in one request is seen by the next. */
export function createContextFactory({ db }: ContextDeps) {
  return (requestId: string): Context => ({
    em: db.orm.em.fork() as EntityManager,
    db,
    requestId,
  });
}
