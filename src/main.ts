/**
 * The entry point, and the only module with side effects: read the environment, start the
 * service (one process, or WORKERS threads sharing the port), stop it cleanly on SIGTERM/SIGINT.
 */
import { existsSync } from 'node:fs';
import { type Config, ConfigError, parseConfig } from './config.ts';
import { StartupError } from './db/startup-error.ts';
import { ListenError } from './http/server.ts';
import { createLogger, describeError } from './logger.ts';
import { type Service, startService } from './service.ts';

if (existsSync('.env')) process.loadEnvFile('.env');

let config: Config;
try {
  config = parseConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(78); // EX_CONFIG
}

const logger = createLogger(config.logLevel);

const exit = (code: number): never => {
  logger.flush();
  process.exit(code);
};
const fail = (message: string, error: unknown) => {
  logger.fatal({ err: describeError(error) }, message);
  return exit(1);
};
process.on('unhandledRejection', (error) => fail('unhandled promise rejection', error));
process.on('uncaughtException', (error) => fail('uncaught exception', error));

let service: Service | undefined;
let signals = 0;

const shutdown = (signal: NodeJS.Signals) => {
  signals++;
  if (!service) {
    // Still starting: stop as soon as the service is up (or exit now on a second signal).
    logger.warn({ signal }, 'signal during start-up');
    if (signals > 1) exit(1);
    return;
  }
  const running = service;
  if (signals > 1) {
    logger.warn({ signal }, 'second signal: exiting now');
    void running.kill().finally(() => exit(1));
    return;
  }
  logger.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => {
    logger.error('shutdown grace period expired: exiting');
    void running.kill().finally(() => exit(1));
  }, config.shutdownGraceMs + 3000);
  deadline.unref();
  running.stop().then(
    (drained) => {
      logger.info({ drained }, 'stopped');
      exit(drained ? 0 : 1);
    },
    (error: unknown) => fail('shutdown failed', error),
  );
};
// Registered before starting, so a signal that arrives during start-up is not lost.
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

void startService(config, logger).then(
  (started) => {
    service = started;
    if (signals > 0) {
      signals = 0;
      shutdown('SIGTERM');
    }
  },
  (error: unknown) => {
    if (error instanceof StartupError || error instanceof ListenError) {
      logger.fatal(error.message);
      return exit(1);
    }
    return fail('start-up failed', error);
  },
);
