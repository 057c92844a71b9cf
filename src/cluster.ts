import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type App, startApp } from './app.ts';
import { type Config, dbTimeouts } from './config.ts';
import { openDatabase, openEmbedded, StartupError } from './db/database.ts';
import type { EmbeddedPostgres } from './db/embedded.ts';
import { createAcceptor } from './http/acceptor.ts';

/**
 * The worker's entry: from the built bundle (dist/src/main.cjs) its sibling worker.cjs; from the
 * TypeScript sources (tsx), a small module that registers tsx in the thread first.
 */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.mjs' : './worker.cjs', import.meta.url);

/** Messages between the main thread and the HTTP workers. */
export type ToWorker = { type: 'stop'; force: boolean };
export type FromWorker =
  | { type: 'ready'; descriptor: unknown }
  | { type: 'stopped'; drained: boolean }
  | { type: 'failed'; message: string }
  /** An uncaught error: the thread waits to be ended once it no longer gets connections. */
  | { type: 'crashed' };
export interface WorkerInput {
  index: number;
  /** Environment overrides for the worker's config (port, ...). */
  env: Record<string, string>;
  /** Where to open connections to the embedded database the main thread hosts (none with DATABASE_URL). */
  connector?: MessagePort;
}

export interface Cluster {
  port: number;
  stop(): Promise<boolean>;
  kill(): Promise<void>;
}

interface RunningWorker {
  worker: Worker;
  descriptor: unknown;
}

/**
 * `WORKERS=n` (n > 1): n copies of the whole HTTP service in one process, sharing nothing but
 * the database. The main thread binds the port exclusively (acceptor.ts: a second process cannot
 * share it) and hands each connection to one of the n serving apps, its own and one per worker
 * thread. It opens the embedded database when there is no DATABASE_URL (its threads connect to it
 * over MessagePorts), serves as soon as it is ready, then starts the n - 1 worker threads.
 */
export async function startCluster(config: Config, logger: Logger): Promise<Cluster> {
  const primaryLogger = logger.child({ worker: 0 });
  const acceptor = createAcceptor();
  // First, so a busy port fails at once, before any database work.
  const port = await acceptor.listen(config.host, config.port);
  const workers: RunningWorker[] = [];
  let primary: App | undefined;
  let hosted: EmbeddedPostgres | undefined;
  try {
    if (!config.databaseUrl) hosted = await openEmbedded({ dataDir: config.dataDir, seedFile: config.dbJsonPath, logger: primaryLogger });
    const embedded = hosted;
    primary = await startApp({
      config: { ...config, port },
      logger: primaryLogger,
      openDb: () =>
        openDatabase({
          databaseUrl: config.databaseUrl,
          databaseCaCert: config.databaseCaCert,
          dataDir: config.dataDir,
          ...(embedded ? { connector: { stream: embedded.connect } } : {}),
          poolMax: config.dbPoolMax,
          // The embedded database is always brought up to date; a server only with MIGRATE_ON_START.
          migrateOnStart: embedded ? true : config.migrateOnStart,
          logger: primaryLogger,
          timeouts: dbTimeouts(config),
          startupWaitMs: config.startupDbWaitMs,
        }),
      serveThrough: async (descriptor) => {
        acceptor.add(descriptor);
        return port;
      },
    });
    const spawned = await Promise.allSettled(Array.from({ length: config.workers - 1 }, (_, i) => spawn(i + 1)));
    for (const r of spawned) if (r.status === 'fulfilled') workers.push(r.value);
    const failed = spawned.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    logger.info({ workers: workers.length + 1, port }, 'cluster listening');
  } catch (error) {
    acceptor.close();
    await Promise.all([primary?.kill(), ...workers.map((w) => stopWorker(w.worker, true, 2000))]);
    await hosted?.stop();
    throw error;
  }

  function spawn(index: number): Promise<RunningWorker> {
    return new Promise((resolve, reject) => {
      let connector: MessagePort | undefined;
      if (hosted) {
        const channel = new MessageChannel();
        hosted.serve(channel.port1);
        connector = channel.port2;
      }
      const input: WorkerInput = {
        index,
        env: { PORT: String(port), MIGRATE_ON_START: 'false', WORKERS: '1', STARTUP_DB_WAIT_MS: '0' },
        ...(connector ? { connector } : {}),
      };
      const worker = new Worker(WORKER_ENTRY, { workerData: input, transferList: connector ? [connector] : [] });
      let running: RunningWorker | undefined;
      worker.once('error', reject);
      worker.once('exit', (code) => {
        // A thread that is gone must never be handed a connection.
        if (running) acceptor.remove(running.descriptor);
        reject(new Error(`worker ${index} exited with ${code} before serving`));
      });
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          running = { worker, descriptor: m.descriptor };
          acceptor.add(m.descriptor);
          resolve(running);
        }
        if (m.type === 'failed') reject(new StartupError(m.message));
        if (m.type === 'crashed') {
          // The others keep serving; this one gets no more connections, then is ended.
          if (running) acceptor.remove(running.descriptor);
          void worker.terminate();
        }
      });
    });
  }

  const app = primary;
  const stopAll = async (force: boolean) => {
    // No new connections, and none handed to an app that is stopping.
    acceptor.close();
    const results = await Promise.allSettled([
      force ? app.kill().then(() => false) : app.stop(),
      ...workers.map((w) => stopWorker(w.worker, force, force ? 1000 : config.shutdownGraceMs + 1000)),
    ]);
    // The embedded database goes last, whatever happened to the threads using it.
    await hosted?.stop();
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
