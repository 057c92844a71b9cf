import type { Logger } from 'pino';
import { createContextFactory } from './api/context.ts';
import { createOpenApiDocument } from './api/openapi.ts';
import { appRouter } from './api/router.ts';
import { createTokenCheck } from './auth.ts';
import { type Config, dbTimeouts } from './config.ts';
import { type Database, openDatabase } from './db/database.ts';
import { createReadAudit, type ReadAudit } from './db/read-audit.ts';
import { apiError } from './errors.ts';
import { createCoalescingHandler } from './http/coalesce.ts';
import { createCors } from './http/cors.ts';
import { createDocsHandler } from './http/docs.ts';
import { createEventsHandler } from './http/events.ts';
import { createRequestHandler } from './http/handler.ts';
import { createRestHandler } from './http/rest.ts';
import { createRouteTemplate } from './http/route-template.ts';
import { createHttpServer } from './http/server.ts';
import { createTrpcHandler } from './http/trpc.ts';
import { errorResponse, type Handler, type HttpRequest } from './http/types.ts';
import { createLive, type Live } from './live/live.ts';
import { patients } from './patients/patient.fields.ts';

const VERSION = '0.1.0';
const MAX_BATCH_SIZE = 10;

export interface App {
  /** The port the server listens on. */
  port: number;
  db: Database;
  /** The access audit (AUDIT_READS), when on. */
  readAudit: ReadAudit | undefined;
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
   * Opens the database, instead of opening it from `config`. What it resolves with becomes the
   * app's: closed when the app stops (or when its start fails).
   */
  openDb?: () => Promise<Database>;
  /**
   * Takes connections from a cluster's acceptor (see cluster.ts) instead of listening itself:
   * called with the server's descriptor once the app is ready; resolves with the port.
   */
  serveThrough?: (descriptor: unknown) => Promise<number>;
  /**
   * Keep the process' LISTEN connection for live updates (PostgreSQL server only): the first app
   * of a process (default), not the cluster's other threads (they hear from it).
   */
  listen?: boolean;
}

/** Answer while the database is being opened: the port is bound early so a busy port fails at once. */
const STARTING = errorResponse(apiError('SERVICE_UNAVAILABLE', 'Service is starting'), { connection: 'close' });

/** Builds and starts the whole service. Has no side effects beyond what it returns. */
export async function startApp({ config, logger, openDb, serveThrough, listen = true }: StartOptions): Promise<App> {
  let ready: Handler | undefined;
  const server = createHttpServer({
    handler: (req) => (ready ? ready(req) : Promise.resolve(STARTING)),
    cors: createCors(config.corsOrigins),
    logger,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    trustProxy: config.trustProxy,
    routeTemplate: createRouteTemplate(appRouter._def.procedures, [EVENTS_PATH]),
  });
  // Standalone, the port is taken before anything else: a second start on it fails at once.
  let port = serveThrough ? 0 : await server.listen(config.host, config.port);
  let readAudit: ReadAudit | undefined;
  let live: Live | undefined;
  let db: Database | undefined;
  try {
    db = await (openDb ?? (() => openConfiguredDatabase(config, logger)))();
    const tokens = createTokenCheck(config.apiTokens);
    readAudit = config.auditReads ? createReadAudit(db.sql, logger) : undefined;
    live = createLive({
      db,
      logger,
      listen,
      tables: [patients.history!.table],
      feed: { pollMs: config.live.pollMs, maxQueued: config.live.maxQueued },
    });
    const createContext = createContextFactory({ db, tokens, live, ...(readAudit ? { readAudit } : {}) });
    const docs = createDocsHandler((serverUrl) => createOpenApiDocument(appRouter, VERSION, serverUrl), config.trustProxy);
    const routes = createRequestHandler({
      trpc: createTrpcHandler({ router: appRouter, createContext, logger, maxBatchSize: MAX_BATCH_SIZE }),
      rest: createRestHandler({ router: appRouter, createContext, logger, trustProxy: config.trustProxy }),
      docs,
      streams: new Map([
        [EVENTS_PATH, createEventsHandler({ resource: patients, key: 'patient', createContext, pingMs: config.live.pingMs })],
      ]),
    });
    ready = config.coalesceReads ? createCoalescingHandler(routes, { isStream: isStreamRequest }) : routes;
    if (serveThrough) port = await serveThrough(server.descriptor());
    logger.info({ host: config.host, port, database: db.kind, auth: tokens.enabled }, 'listening');
    if (!tokens.enabled && !isLoopback(config.host)) {
      logger.warn(
        { host: config.host },
        'listening on a non-loopback address without API_TOKENS: patient routes are open to anyone who can reach this port',
      );
    }
  } catch (error) {
    await server.close(0);
    await live?.close();
    await db?.close().catch(() => undefined);
    throw error;
  }

  const opened = db;
  const audit = readAudit;
  const changes = live;
  let stopping: Promise<boolean> | undefined;
  return {
    port,
    db: opened,
    readAudit: audit,
    async kill() {
      await server.close(0);
      await changes.close();
      await opened.close().catch(() => undefined);
    },
    stop() {
      stopping ??= (async () => {
        // Event streams end first (their clients reconnect elsewhere and resume), then requests drain.
        const drained = await server.close(config.shutdownGraceMs);
        await changes.close();
        // The access audit buffered so far is written before the database closes.
        await audit?.flush();
        await opened.close();
        return drained;
      })();
      return stopping;
    },
  };
}

/** The REST event stream (live updates), an addition to json-server's routes. */
const EVENTS_PATH = '/patients/events';
const SUBSCRIPTIONS = new Set(
  Object.entries(appRouter._def.procedures)
    .filter(([, procedure]) => (procedure as { _def: { type: string } })._def.type === 'subscription')
    .map(([name]) => `/trpc/${name}`),
);
/**
 * Requests that may open an event stream (never coalesced: each subscriber has its own). tRPC
 * decodes the path, so any percent-encoded tRPC path counts too.
 */
const isStreamRequest = (req: HttpRequest) =>
  req.path === EVENTS_PATH || (req.path.startsWith('/trpc/') && (SUBSCRIPTIONS.has(req.path) || req.path.includes('%')));

/** The database named by the configuration: a PostgreSQL server, or the embedded one in DATA_DIR. */
function openConfiguredDatabase(config: Config, logger: Logger): Promise<Database> {
  return openDatabase({
    databaseUrl: config.databaseUrl,
    databaseCaCert: config.databaseCaCert,
    dataDir: config.dataDir,
    seedFile: config.dbJsonPath,
    poolMax: config.dbPoolMax,
    migrateOnStart: config.migrateOnStart,
    logger,
    timeouts: dbTimeouts(config),
    startupWaitMs: config.startupDbWaitMs,
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
