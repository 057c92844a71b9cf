import type { TokenCheck } from '../auth.ts';
import type { Database } from '../db/database.ts';
import { createPatientService, type PatientService } from '../patients/patient.service.ts';

/** What every procedure receives. */
export interface Context {
  /** The database (the health check's ping). */
  db: Database;
  /** Patient use cases (one instance per process). */
  patients: PatientService;
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
  const patients = createPatientService(db.sql);
  return ({ requestId, authorization, results }: RequestInfo): Context => ({
    db,
    patients,
    requestId,
    authorized: tokens.allows(authorization),
    results,
  });
}

export type CreateContext = ReturnType<typeof createContextFactory>;
