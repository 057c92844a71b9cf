import type { Logger } from 'pino';
import { createTokenCheck } from './auth.ts';
import { dbTimeouts, type Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { createCoalescingHandler } from './http/coalesce.ts';
import { createCors } from './http/cors.ts';
import { createDocsHandler } from './http/docs.ts';
import { createRequestHandler } from './http/handler.ts';
import { createRestHandler } from './http/rest.ts';
import { createRouteTemplate } from './http/routes.ts';
import { createHttpServer } from './http/server.ts';
import { createTrpcHandler } from './http/trpc.ts';
import { createOpenApiDocument } from './openapi.ts';
import { formatImportProblems, formatImportSummary, importPatients, readSeedFile } from './patients/patient.import.ts';
import { createContextFactory } from './trpc/context.ts';
import { appRouter } from './trpc/router.ts';

export const VERSION = '0.1.0';
const MAX_BATCH_SIZE = 10;

export interface App {
  /** The port the server listens on. */
  port: number;
  db: Database;
  /**
   * Graceful stop: stop accepting, let in-flight requests finish (within the grace period),
   * close the database. Resolves true when everything finished in time.
   */
  stop(): Promise<boolean>;
  /** Drops every connection at once (a forced stop). */
  kill(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  logger: Logger;
  /**
   * A database already opened (and migrated) by the caller, used instead of opening one from
   * `config`. The app closes it when it stops; if the start fails, it stays the caller's.
   */
  database?: Database;
}

/** Builds and starts the whole service. Has no side effects beyond what it returns. */
export async function startApp({ config, logger, database }: StartOptions): Promise<App> {
  const db =
    database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolMax: config.dbPoolMax,
      migrateOnStart: config.migrateOnStart,
      logger,
      timeouts: dbTimeouts(config),
      startupWaitMs: config.startupDbWaitMs,
    }));
  try {
    if (db.kind === 'embedded' && db.created) await seedNewDatabase(db, config.dbJsonPath, logger);
    const tokens = createTokenCheck(config.apiTokens);
    const createContext = createContextFactory({ db, tokens });
    const routes = createRequestHandler({
      trpc: createTrpcHandler({ router: appRouter, createContext, logger, maxBatchSize: MAX_BATCH_SIZE }),
      rest: createRestHandler({ router: appRouter, createContext, logger }),
      docs: createDocsHandler(() => createOpenApiDocument(appRouter, VERSION)),
    });
    const handler = config.coalesceReads ? createCoalescingHandler(routes) : routes;
    const server = createHttpServer({
      handler,
      cors: createCors(config.corsOrigins),
      logger,
      maxBodyBytes: config.maxBodyBytes,
      requestTimeoutMs: config.requestTimeoutMs,
      routeTemplate: createRouteTemplate(Object.keys(appRouter._def.procedures)),
    });
    const port = await server.listen(config.host, config.port);
    logger.info({ host: config.host, port, database: db.kind, auth: tokens.enabled }, 'listening');
    if (!tokens.enabled && !isLoopback(config.host)) {
      logger.warn({ host: config.host }, 'listening on a non-loopback address without API_TOKENS: patient routes are open to anyone who can reach this port');
    }

    let stopping: Promise<boolean> | undefined;
    return {
      port,
      db,
      async kill() {
        await server.close(0);
        await db.close().catch(() => undefined);
      },
      stop() {
        stopping ??= (async () => {
          const drained = await server.close(config.shutdownGraceMs);
          await db.close();
          return drained;
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (!database) await db.close();
    throw error;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** First start of the embedded database: import the sample json-server file so there is data. */
export async function seedNewDatabase(db: Database, path: string, logger: Logger) {
  const report = await importPatients(db.orm.em.fork(), await readSeedFile(path));
  for (const line of formatImportProblems(report)) logger.warn(line);
  logger.info(formatImportSummary(report));
}
