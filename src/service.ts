import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { startApp } from './app.ts';
import { startCluster } from './cluster.ts';
import type { Config } from './config.ts';
import { acquireDataDirLock, type DataDirLock } from './db/data-dir-lock.ts';

export interface Service {
  port: number;
  /** Graceful stop; resolves true when every in-flight request finished in time. */
  stop(): Promise<boolean>;
  kill(): Promise<void>;
}

/**
 * The service as `npm start` runs it: one thread, or WORKERS threads sharing the port. On the
 * embedded database it first takes DATA_DIR's lock (data-dir-lock.ts), before binding the port
 * or touching any file, and holds it until the service has stopped.
 */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  let lock: DataDirLock | undefined;
  if (!config.databaseUrl) {
    const path = resolve(config.dataDir);
    mkdirSync(dirname(path), { recursive: true });
    lock = acquireDataDirLock(path, config.dataDir);
  }
  try {
    const service = config.workers > 1 ? await startCluster(config, logger) : await startApp({ config, logger });
    const release = <T>(result: T) => {
      lock?.release();
      return result;
    };
    return {
      port: service.port,
      stop: () => service.stop().then(release, (error: unknown) => Promise.reject(release(error))),
      kill: () => service.kill().then(release),
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}
