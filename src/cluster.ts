import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { seedNewDatabase, startApp, type App } from './app.ts';
import { dbTimeouts, type Config } from './config.ts';
import { openDatabase, StartupError, type Database } from './db/database.ts';
import { ListenError } from './http/server.ts';
import { freePort } from './net.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';

/**
 * The worker's entry: from the built bundle (dist/src/main.cjs) its sibling worker.cjs; from the
 * TypeScript sources (tsx), a small module that registers tsx in the thread first.
 */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.cjs', import.meta.url);

/** Messages between the primary thread and the HTTP workers. */
export type ToWorker = { type: 'stop'; force: boolean };
export type FromWorker = { type: 'listening'; port: number } | { type: 'stopped'; drained: boolean } | { type: 'failed'; message: string };
export interface WorkerInput {
  index: number;
  /** Environment overrides for the worker's config (database URL, port...). */
  env: Record<string, string>;
}

export interface Cluster {
  port: number;
  stop(): Promise<boolean>;
  kill(): Promise<void>;
}

/**
 * `WORKERS=n` (n > 1): n copies of the whole HTTP service on one port (uWebSockets.js listens
 * with SO_REUSEPORT, the kernel spreads connections), sharing nothing but PostgreSQL.
 *
 * This thread is worker 0: it prepares the database (starts the embedded PGlite server when there
 * is no DATABASE_URL; checks or applies migrations through its own start), serves as soon as it
 * is ready, then starts the n - 1 worker threads on its port. So the first request is served as
 * early as with one worker, and there is no idle supervisor thread holding memory.
 */
export async function startCluster(config: Config, logger: Logger): Promise<Cluster> {
  const primaryLogger = logger.child({ worker: 0 });
  const database = await prepareDatabase(config, primaryLogger);
  const workers: Worker[] = [];
  let primary: App | undefined;
  const spawn = (index: number, port: number) =>
    new Promise<Worker>((resolve, reject) => {
      const input: WorkerInput = {
        index,
        env: { DATABASE_URL: database.url, PORT: String(port), MIGRATE_ON_START: 'false', WORKERS: '1', STARTUP_DB_WAIT_MS: '0' },
      };
      const worker = new Worker(WORKER_ENTRY, { workerData: input });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${index} exited with ${code} before listening`)));
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'listening') resolve(worker);
        if (m.type === 'failed') reject(new StartupError(m.message));
      });
    });
  try {
    // Workers share the port through SO_REUSEPORT, which an ephemeral (0) bind does not take part
    // in: with PORT=0, pick a free port first.
    for (let attempt = 1; !primary; attempt++) {
      const port = config.port === 0 ? await freePort(config.host) : config.port;
      try {
        primary = await startApp({
          config: { ...config, databaseUrl: database.url, port, workers: 1 },
          logger: primaryLogger,
          ...(database.opened ? { database: database.opened } : {}),
        });
      } catch (error) {
        // Another process can take a free port between our probe and the bind: probe again.
        if (config.port !== 0 || attempt >= 3 || !(error instanceof ListenError)) throw error;
      }
    }
    const port = primary.port;
    const rest = await Promise.allSettled(Array.from({ length: config.workers - 1 }, (_, i) => spawn(i + 1, port)));
    for (const r of rest) if (r.status === 'fulfilled') workers.push(r.value);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    logger.info({ workers: workers.length + 1, port }, 'cluster listening');

    const app = primary;
    const stopAll = async (force: boolean) => {
      const results = await Promise.allSettled([
        force ? app.kill().then(() => false) : app.stop(),
        ...workers.map((w) => stopWorker(w, force, force ? 1000 : config.shutdownGraceMs + 1000)),
      ]);
      // The embedded database goes last, whatever happened to the workers.
      await database.stop();
      return results.every((r) => r.status === 'fulfilled' && r.value);
    };
    let stopping: Promise<boolean> | undefined;
    return {
      port,
      stop: () => (stopping ??= stopAll(false)),
      kill: async () => {
        await stopAll(true);
      },
    };
  } catch (error) {
    await Promise.all([primary?.kill(), ...workers.map((w) => stopWorker(w, true, 2000))]);
    if (!primary) await database.opened?.close();
    await database.stop();
    throw error;
  }
}

/** Asks a worker to stop and waits for it to exit; resolves with whether it drained in time. */
function stopWorker(worker: Worker, force: boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let drained = false;
    const timer = setTimeout(() => {
      void worker.terminate();
    }, timeoutMs);
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'stopped') drained = m.drained;
    });
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve(drained);
    });
    worker.postMessage({ type: 'stop', force } satisfies ToWorker);
  });
}

/**
 * The database every thread uses. A PostgreSQL server needs nothing here: worker 0's own start
 * checks (or, with MIGRATE_ON_START, applies) the migrations before any other worker starts.
 * Without DATABASE_URL, the embedded PGlite server runs in this thread for all workers, migrated
 * and (when new) seeded once, through the database worker 0 then serves with (`opened`).
 */
async function prepareDatabase(config: Config, logger: Logger): Promise<{ url: string; opened?: Database; stop(): Promise<void> }> {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => undefined };
  // Every worker opens a pool to the embedded server: accept all of them.
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, maxConnections: (config.dbPoolMax + 2) * (config.workers + 1) });
  try {
    const opened = await openDatabase({
      databaseUrl: embedded.url,
      dataDir: config.dataDir,
      poolMax: config.dbPoolMax,
      migrateOnStart: true,
      logger,
      timeouts: dbTimeouts(config),
    });
    try {
      if (embedded.created) await seedNewDatabase(opened, config.dbJsonPath, logger);
    } catch (error) {
      await opened.close();
      throw error;
    }
    return { url: embedded.url, opened, stop: () => embedded.stop() };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}
