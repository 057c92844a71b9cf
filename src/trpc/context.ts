import type { TokenCheck } from '../auth.ts';
import type { Database } from '../db/database.ts';
import { createPatientService, type PatientService } from '../patients/patient.service.ts';

/** What every procedure receives. */
export interface Context {
  /** The database: `db.sql` for the request paths (plain SQL on MikroORM's pool, nothing cached). */
  db: Database;
  /** Patient use cases (one instance per process). */
  patients: PatientService;
  requestId: string;
  /** The request as sent: path with query string, and Host header (json-server builds URLs from them). */
  http: { url: string; host: string | undefined };
  /** Headers a procedure wants on its REST response (X-Total-Count, Link, Location...). */
  responseHeaders: Record<string, string>;
  /** The request may use patient routes (auth off, or a valid bearer token). */
  authorized: boolean;
  /**
   * Set when the transport can send a JSON body produced by PostgreSQL as it is (REST, and tRPC
   * calls that are not batched): a list procedure then puts the text in `body` and returns an
   * empty placeholder, and the transport writes the text instead.
   */
  rawJson?: { body?: string };
}

export interface RequestInfo {
  requestId: string;
  url: string;
  host: string | undefined;
  authorization: string | undefined;
  /** The transport accepts `rawJson` bodies. */
  rawJson?: boolean;
}

export function createContextFactory({ db, tokens }: { db: Database; tokens: TokenCheck }) {
  const patients = createPatientService(db.sql);
  return ({ requestId, url, host, authorization, rawJson }: RequestInfo): Context => ({
    db,
    patients,
    requestId,
    http: { url, host },
    responseHeaders: {},
    authorized: tokens.allows(authorization),
    ...(rawJson ? { rawJson: {} } : {}),
  });
}

export type CreateContext = ReturnType<typeof createContextFactory>;
