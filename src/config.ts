import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { type ApiToken, parseApiTokens } from './auth.ts';

/**
 * Every setting the service reads from the environment, parsed once at start.
 * No other module reads `process.env` (the MikroORM CLI config goes through here too).
 */
/** An on/off setting: true/false/1/0; unset or blank means its default. */
const flag = (fallback: boolean) =>
  z.preprocess(
    (v: unknown) => unsetIfEmpty(v),
    z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1')),
  );

/**
 * One CORS_ORIGINS entry: an exact origin (`https://records.clinic.example`), or a pattern whose
 * leftmost DNS label is `*` or ends with it (`https://*.vercel.app`, `https://clinic-*.pages.dev`).
 * See src/http/cors.ts for how patterns match.
 */
const ORIGIN_PATTERN = /^https?:\/\/[a-z0-9-]*\*(\.[a-z0-9-]+){2,}(:\d{1,5})?$/;
const originEntry = z.string().transform((o, ctx) => {
  if (o.includes('*')) {
    const pattern = o.toLowerCase().replace(/\/+$/, '');
    if (ORIGIN_PATTERN.test(pattern)) return pattern;
    ctx.addIssue({ code: 'custom', message: 'a pattern must be scheme://*.domain.tld or scheme://prefix-*.domain.tld' });
    return z.NEVER;
  }
  const parsed = z.url({ protocol: /^https?$/ }).safeParse(o);
  if (parsed.success) return new URL(parsed.data).origin;
  ctx.addIssue({ code: 'invalid_format', format: 'url', input: o, message: 'must be a valid url' });
  return z.NEVER;
});

const originList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o.length > 0),
  )
  .pipe(z.array(originEntry));

/** The dev servers of Create React App and Vite, under both names of the loopback address. */
export const DEFAULT_CORS_ORIGINS = ['http://localhost:3000', 'http://localhost:5173', 'http://127.0.0.1:3000', 'http://127.0.0.1:5173'];

/** An empty value (`WORKERS=` in a .env file) means "use the default". */
/** An empty or blank value is unset (its default applies): `PORT= ` is not port 0. */
function unsetIfEmpty(v: unknown) {
  return typeof v === 'string' && v.trim() === '' ? undefined : v;
}
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

export const configSchema = z.object({
  PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(65535).default(8000)),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** PEM text of the CA that signed the database server's certificate (platforms that hand it over as a secret). */
  DATABASE_CA_CERT: z.preprocess(
    unsetIfEmpty,
    z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must be PEM text (-----BEGIN CERTIFICATE-----)' }).optional(),
  ),
  DATA_DIR: z.string().min(1).default('./.data'),
  DB_JSON: z.string().min(1).default('seeders/db.json'),
  CORS_ORIGINS: z.preprocess(unsetIfEmpty, originList.default(DEFAULT_CORS_ORIGINS)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIGRATE_ON_START: flag(false),
  SEED_DRY_RUN: flag(false),
  MAX_BODY_BYTES: z.preprocess(unsetIfEmpty, positiveInt(10 * 1024 * 1024).default(100 * 1024)),
  SHUTDOWN_GRACE_MS: z.preprocess(unsetIfEmpty, positiveInt(10 * 60_000).default(10_000)),
  DB_POOL_MAX: z.preprocess(unsetIfEmpty, positiveInt(100).default(10)),
  DB_STATEMENT_TIMEOUT_MS: z.preprocess(unsetIfEmpty, positiveInt(10 * 60_000).default(5_000)),
  DB_ACQUIRE_TIMEOUT_MS: z.preprocess(unsetIfEmpty, positiveInt(60_000).default(2_000)),
  DB_CONNECT_TIMEOUT_MS: z.preprocess(unsetIfEmpty, positiveInt(60_000).default(2_000)),
  STARTUP_DB_WAIT_MS: z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number()
      .int()
      .min(0)
      .max(10 * 60_000)
      .default(10_000),
  ),
  COALESCE_READS: flag(true),
  AUDIT_READS: flag(false),
  /** Live updates: a ping comment on an event stream after this long without an event. */
  LIVE_PING_MS: z.preprocess(unsetIfEmpty, positiveInt(60_000).default(5_000)),
  /** Live updates: events one subscriber may fall behind before it is disconnected (it resumes by event id). */
  LIVE_MAX_QUEUED: z.preprocess(unsetIfEmpty, positiveInt(100_000).default(1_000)),
  /** Live updates: how often a feed reads the events table anyway (a lost notification costs at most this). */
  LIVE_POLL_MS: z.preprocess(unsetIfEmpty, positiveInt(60_000).default(1_000)),
  REQUEST_TIMEOUT_MS: z.preprocess(unsetIfEmpty, positiveInt(10 * 60_000).default(10_000)),
  WORKERS: z.preprocess(unsetIfEmpty, positiveInt(64).optional()),
  /**
   * Behind a reverse proxy (TLS terminated there): `true` trusts every hop, a number n the n
   * nearest; `false`/`0` (default) ignores X-Forwarded-* and Forwarded entirely.
   */
  TRUST_PROXY: z.preprocess(
    unsetIfEmpty,
    z
      .union([z.enum(['true', 'false']), z.coerce.number().int().min(0).max(32)])
      .default('false')
      .transform((v) => (v === 'true' ? Number.POSITIVE_INFINITY : v === 'false' ? 0 : v)),
  ),
  API_TOKENS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    )
    .transform(parseApiTokens)
    .pipe(
      z
        .array(z.object({ name: z.string(), token: z.string().min(16, 'each token must be at least 16 characters') }))
        .refine((tokens) => new Set(tokens.map((t) => t.name)).size === tokens.length, 'token names must be unique'),
    ),
});

export type Config = Readonly<{
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** PEM of the database server's CA (in addition to DATABASE_URL's sslrootcert). */
  databaseCaCert: string | undefined;
  dataDir: string;
  dbJsonPath: string;
  corsOrigins: readonly string[];
  logLevel: z.infer<typeof configSchema>['LOG_LEVEL'];
  migrateOnStart: boolean;
  seedDryRun: boolean;
  maxBodyBytes: number;
  shutdownGraceMs: number;
  dbPoolMax: number;
  dbStatementTimeoutMs: number;
  dbAcquireTimeoutMs: number;
  dbConnectTimeoutMs: number;
  startupDbWaitMs: number;
  requestTimeoutMs: number;
  /** Identical concurrent GETs share one execution (see src/http/coalesce.ts). */
  coalesceReads: boolean;
  /** Record who was answered which patients (ids and counts, never data) in patient_reads. */
  auditReads: boolean;
  /** Live updates (event streams): ping interval, per-subscriber bound, safety-net poll. */
  live: { pingMs: number; maxQueued: number; pollMs: number };
  /** HTTP worker threads sharing the port (default: the number of cores; 1 on the embedded database). */
  workers: number;
  /** Bearer tokens accepted on patient routes; empty: the API is open. */
  /** Named bearer tokens (`name:token`; a bare token is named `token-<n>`). */
  apiTokens: readonly ApiToken[];
  /** Proxy hops whose X-Forwarded-* / Forwarded headers are believed (0: none, Infinity: all). */
  trustProxy: number;
}>;

/** The database time limits, as openDatabase takes them. */
export const dbTimeouts = (c: Config) => ({
  statementMs: c.dbStatementTimeoutMs,
  acquireMs: c.dbAcquireTimeoutMs,
  connectMs: c.dbConnectTimeoutMs,
});

/** A configuration problem. Its message names the variables, never their values. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      return `  ${variable}: ${describeIssue(issue)}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = result.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseCaCert: e.DATABASE_CA_CERT,
    dataDir: e.DATA_DIR,
    dbJsonPath: e.DB_JSON,
    corsOrigins: Object.freeze([...e.CORS_ORIGINS]),
    logLevel: e.LOG_LEVEL,
    migrateOnStart: e.MIGRATE_ON_START,
    seedDryRun: e.SEED_DRY_RUN,
    maxBodyBytes: e.MAX_BODY_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    dbPoolMax: e.DB_POOL_MAX,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    dbAcquireTimeoutMs: e.DB_ACQUIRE_TIMEOUT_MS,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    startupDbWaitMs: e.STARTUP_DB_WAIT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    coalesceReads: e.COALESCE_READS,
    auditReads: e.AUDIT_READS,
    live: Object.freeze({ pingMs: e.LIVE_PING_MS, maxQueued: e.LIVE_MAX_QUEUED, pollMs: e.LIVE_POLL_MS }),
    // The embedded PGlite runs every query on one thread: extra HTTP workers only add start-up
    // time and memory there, so it defaults to one.
    workers: e.WORKERS ?? (e.DATABASE_URL ? availableParallelism() : 1),
    apiTokens: Object.freeze([...e.API_TOKENS]),
    trustProxy: e.TRUST_PROXY,
  });
}

/** A message about the kind of problem, built without the offending value. */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      // `includes` carries our own message (it names the expected text, never the value).
      return issue.format === 'includes' ? issue.message : `must be a valid ${issue.format}`;
    case 'too_small':
      return issue.origin === 'string' ? `${issue.message}` : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_union':
      return 'has an invalid value';
    case 'custom':
      return issue.message;
    default:
      return 'has an invalid value';
  }
}
