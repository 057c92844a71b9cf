import { Writable } from 'node:stream';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { type App, startApp } from '../../src/app.ts';
import type { AppRouter } from '../../src/client.ts';
import { type Config, parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApp {
  app: App;
  db: TestDatabase;
  baseUrl: string;
  /** Every log line the service wrote, as text. */
  logs: string[];
  stop(): Promise<void>;
}

/** What the typed client takes and answers, procedure by procedure, as the router declares it. */
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
/** A patient as `patient.create` (and POST /patients) takes it. */
export type PatientInput = RouterInputs['patient']['create'];
/** What `patient.search` takes. */
export type PatientSearchInput = RouterInputs['patient']['search'];

/**
 * The real service on an ephemeral port over a fresh, migrated test database. Logs are captured
 * at `trace` level so tests can check what would reach an operator.
 *
 * Request coalescing is off (`COALESCE_READS=false`), so every request runs on its own and a test
 * sees its own request's answer; the coalescing tests pass `COALESCE_READS: 'true'`.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const config: Config = parseConfig({
    PORT: '0',
    DATABASE_URL: db.url,
    MIGRATE_ON_START: 'true',
    DB_POOL_MAX: '4',
    LOG_LEVEL: 'trace',
    COALESCE_READS: 'false',
    ...env,
  });
  try {
    const app = await startApp({ config, logger: createLogger(config.logLevel, sink) });
    return {
      app,
      db,
      baseUrl: `http://127.0.0.1:${app.port}`,
      logs,
      async stop() {
        await app.stop();
        await db.drop();
      },
    };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/**
 * A valid patient for the typed client and for REST. Invalid bodies are built outside it
 * (`{ ...samplePatient(), age: '40' }`), so a typed call with one does not compile.
 */
export const samplePatient = (overrides: Partial<PatientInput> = {}): PatientInput => ({
  patientID: 'P900',
  name: 'Test Patient',
  age: 40,
  gender: 'Female',
  medicalCondition: 'Asthma',
  lastVisit: '2024-05-01',
  ...overrides,
});

export function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
