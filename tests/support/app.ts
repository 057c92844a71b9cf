import { Writable } from 'node:stream';
import { startApp, type App } from '../../src/app.ts';
import { parseConfig, type Config } from '../../src/config.ts';
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

/**
 * The real service on an ephemeral port over a fresh, migrated test database. Logs are captured
 * at `trace` level so tests can check what would reach an operator.
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

export const samplePatient = (overrides: Record<string, unknown> = {}) => ({
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
