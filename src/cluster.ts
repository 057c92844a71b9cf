import { createServer, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { seedNewDatabase } from './app.ts';
import { dbTimeouts, type Config } from './config.ts';
import { openDatabase, StartupError } from './db/database.ts';
import { startEmbeddedPostgres } from './db/embedded.ts';

/**
 * The worker's entry: from the built bundle (dist/src/main.mjs) its sibling worker.mjs; from the
 * TypeScript sources (tsx), a small module that registers tsx in the thread first.
 */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.mjs', import.meta.url);

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
 * `WORKERS=n` (n > 1): this thread owns the database set-up (the embedded PGlite server lives here,
 * migrations and the first seed run here once), then starts n worker threads that each run the
 * whole HTTP service on the same port (uWebSockets.js listens with SO_REUSEPORT, the kernel spreads
 * connections). Workers share nothing but PostgreSQL.
 */
export async function startCluster(config: Config, logger: Logger): Promise<Cluster> {
  const database = await prepareDatabase(config, logger);
  const workers: Worker[] = [];
  const spawn = (index: number, port: number) =>
    new Promise<{ worker: Worker; port: number }>((resolve, reject) => {
      const input: WorkerInput = {
        index,
        env: { DATABASE_URL: database.url, PORT: String(port), MIGRATE_ON_START: 'false', WORKERS: '1', STARTUP_DB_WAIT_MS: '0' },
      };
      const worker = new Worker(WORKER_ENTRY, { workerData: input });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${index} exited with ${code} before listening`)));
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'listening') resolve({ worker, port: m.port });
        if (m.type === 'failed') reject(new StartupError(m.message));
      });
    });
  try {
    // Workers share the port through SO_REUSEPORT, which an ephemeral (0) bind does not take part
    // in: with PORT=0, pick a free port first.
    let first: { worker: Worker; port: number } | undefined;
    for (let attempt = 1; !first; attempt++) {
      try {
        first = await spawn(0, config.port === 0 ? await freePort(config.host) : config.port);
      } catch (error) {
        // Another process can take a free port between our probe and the bind: probe again.
        if (config.port !== 0 || attempt >= 3) throw error;
      }
    }
    workers.push(first.worker);
    const rest = await Promise.allSettled(Array.from({ length: config.workers - 1 }, (_, i) => spawn(i + 1, first.port)));
    for (const r of rest) if (r.status === 'fulfilled') workers.push(r.value.worker);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    logger.info({ workers: workers.length, port: first.port }, 'cluster listening');

    const stopAll = async (force: boolean) => {
      const results = await Promise.all(workers.map((w) => stopWorker(w, force, force ? 1000 : config.shutdownGraceMs + 1000)));
      await database.stop();
      return results.every(Boolean);
    };
    let stopping: Promise<boolean> | undefined;
    return {
      port: first.port,
      stop: () => (stopping ??= stopAll(false)),
      kill: async () => {
        await stopAll(true);
      },
    };
  } catch (error) {
    await Promise.all(workers.map((w) => stopWorker(w, true, 2000)));
    await database.stop();
    throw error;
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
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

/** Opens the database once: embedded server started, migrations applied (or checked), first seed. */
async function prepareDatabase(config: Config, logger: Logger): Promise<{ url: string; stop(): Promise<void> }> {
  const timeouts = dbTimeouts(config);
  if (config.databaseUrl) {
    const db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolMax: 2,
      migrateOnStart: config.migrateOnStart,
      logger,
      timeouts,
      startupWaitMs: config.startupDbWaitMs,
    });
    await db.close();
    return { url: config.databaseUrl, stop: async () => undefined };
  }
  // Every worker opens a pool to the embedded server: accept all of them.
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, maxConnections: (config.dbPoolMax + 2) * (config.workers + 1) });
  try {
    const db = await openDatabase({ databaseUrl: embedded.url, dataDir: config.dataDir, poolMax: 2, migrateOnStart: true, logger, timeouts });
    if (embedded.created) await seedNewDatabase(db, config.dbJsonPath, logger);
    await db.close();
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return { url: embedded.url, stop: () => embedded.stop() };
}
