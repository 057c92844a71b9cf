import type { TokenCheck } from '../auth.ts';
import type { Database } from '../db/database.ts';
import { publicOrigin, type Scheme } from '../http/forwarded.ts';
import { createPatientService, type PatientService } from '../patients/patient.service.ts';

/** What every procedure receives. */
export interface Context {
  /** The database: `db.sql` for the request paths (plain SQL on MikroORM's pool, nothing cached). */
  db: Database;
  /** Patient use cases (one instance per process). */
  patients: PatientService;
  requestId: string;
  /**
   * The request as sent: path with query string, the host and scheme the client used (json-server
   * builds URLs from them). Without TRUST_PROXY: the Host header and `http`; behind a trusted
   * proxy: what it forwarded (see http/forwarded.ts).
   */
  http: { url: string; host: string | undefined; proto: Scheme };
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
  /** Lower-case names, as in HttpRequest (Host, Authorization, the forwarding headers). */
  headers: Record<string, string>;
  /** The transport accepts `rawJson` bodies. */
  rawJson?: boolean;
}

/** `trustProxy`: how many proxy hops to believe about the public scheme and host (config.trustProxy). */
export function createContextFactory({ db, tokens, trustProxy }: { db: Database; tokens: TokenCheck; trustProxy: number }) {
  const patients = createPatientService(db.sql);
  return ({ requestId, url, headers, rawJson }: RequestInfo): Context => ({
    db,
    patients,
    requestId,
    http: { url, ...publicOrigin(headers, trustProxy) },
    responseHeaders: {},
    authorized: tokens.allows(headers.authorization),
    ...(rawJson ? { rawJson: {} } : {}),
  });
}

export type CreateContext = ReturnType<typeof createContextFactory>;
