/**
 * Entry point of one HTTP worker thread (see cluster.ts): the whole service, taking connections
 * from the main thread's acceptor, on the database the main thread prepared.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startApp } from './app.ts';
import type { FromWorker, ToWorker, WorkerInput } from './cluster.ts';
import { dbTimeouts, parseConfig } from './config.ts';
import { openDatabase, StartupError } from './db/database.ts';
import { createLogger, describeError } from './logger.ts';

const input = workerData as WorkerInput;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const config = parseConfig({ ...process.env, ...input.env });
const logger = createLogger(config.logLevel, undefined, { worker: input.index });
const { connector } = input;

// This thread's event loop serves connections handed over by the acceptor: it must not end
// unannounced. A crash is reported, the main thread stops handing it connections, then ends it.
const crash = (what: string) => (error: unknown) => {
  logger.fatal({ err: describeError(error) }, what);
  logger.flush();
  send({ type: 'crashed' });
};
process.on('uncaughtException', crash('uncaught exception in worker'));
process.on('unhandledRejection', crash('unhandled promise rejection in worker'));

startApp({
  config,
  logger,
  // The process' LISTEN connection is the first app's (cluster.ts); it passes notifications on.
  listen: false,
  openDb: async () => {
    const link = connector ? await import('./db/pglite-link.ts') : undefined;
    return openDatabase({
      databaseUrl: config.databaseUrl,
      databaseCaCert: config.databaseCaCert,
      dataDir: config.dataDir,
      ...(connector && link ? { connector: { stream: () => link.connectThroughPort(connector) } } : {}),
      poolMax: config.dbPoolMax,
      migrateOnStart: false,
      logger,
      timeouts: dbTimeouts(config),
      startupWaitMs: config.startupDbWaitMs,
    });
  },
  serveThrough: async (descriptor) => {
    send({ type: 'ready', descriptor });
    return config.port;
  },
}).then(
  (app) => {
    port.on('message', (m: ToWorker) => {
      if (m.type !== 'stop') return;
      const done = m.force ? app.kill().then(() => false) : app.stop();
      void done.then((drained) => {
        logger.flush();
        send({ type: 'stopped', drained });
        connector?.close();
        port.close();
      });
    });
  },
  (error: unknown) => {
    logger.error({ err: describeError(error) }, 'worker failed to start');
    // Start-up errors carry operator instructions and no data; anything else is reported generically.
    send({ type: 'failed', message: error instanceof StartupError ? error.message : 'a worker failed to start' });
    connector?.close();
    port.close();
  },
);
