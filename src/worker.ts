/**
 * Entry point of one HTTP worker thread (see cluster.ts): the whole service on the shared port,
 * against the database the primary thread prepared.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startApp } from './app.ts';
import type { FromWorker, ToWorker, WorkerInput } from './cluster.ts';
import { parseConfig } from './config.ts';
import { StartupError } from './db/database.ts';
import { describeError } from './logging.ts';
import { createLogger } from './logger.ts';

const input = workerData as WorkerInput;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const config = parseConfig({ ...process.env, ...input.env });
const logger = createLogger(config.logLevel, undefined, { worker: input.index });

startApp({ config, logger }).then(
  (app) => {
    send({ type: 'listening', port: app.port });
    port.on('message', (m: ToWorker) => {
      if (m.type !== 'stop') return;
      const done = m.force ? app.kill().then(() => false) : app.stop();
      void done.then((drained) => {
        logger.flush();
        send({ type: 'stopped', drained });
        port.close();
      });
    });
  },
  (error: unknown) => {
    logger.error({ err: describeError(error) }, 'worker failed to start');
    // Start-up errors carry operator instructions and no data; anything else is reported generically.
    send({ type: 'failed', message: error instanceof StartupError ? error.message : 'a worker failed to start' });
    port.close();
  },
);
