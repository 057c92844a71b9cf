/**
 * parseConfig (src/config.ts), table-driven: what tests/config.test.ts does not already cover
 * (every default, bounds, flags, origin patterns, TRUST_PROXY, API_TOKENS, WORKERS, the CA
 * certificate), and that an invalid value is named by its variable, never echoed.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, DEFAULT_CORS_ORIGINS, parseConfig } from '../../src/config.ts';

type Env = Record<string, string | undefined>;
const DB = 'postgresql://app@db.internal:5432/health';
const TOKEN_A = 'token-aaaaaaaaaaaaaaaa';
const TOKEN_B = 'token-bbbbbbbbbbbbbbbb';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('parseConfig: defaults', () => {
  it('every field of an empty environment', () => {
    expect({ ...parseConfig({}) }).toStrictEqual({
      port: 8000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      databaseCaCert: undefined,
      dataDir: './.data',
      dbJsonPath: 'seeders/db.json',
      corsOrigins: DEFAULT_CORS_ORIGINS,
      logLevel: 'info',
      migrateOnStart: false,
      seedDryRun: false,
      maxBodyBytes: 102_400,
      shutdownGraceMs: 10_000,
      dbPoolMax: 10,
      dbStatementTimeoutMs: 5_000,
      dbAcquireTimeoutMs: 2_000,
      dbConnectTimeoutMs: 2_000,
      startupDbWaitMs: 10_000,
      requestTimeoutMs: 10_000,
      coalesceReads: true,
      auditReads: false,
      live: { pingMs: 5_000, maxQueued: 1_000, pollMs: 1_000 },
      workers: 1,
      apiTokens: [],
      trustProxy: 0,
    });
  });

  it('its lists are frozen too', () => {
    const c = parseConfig({ API_TOKENS: TOKEN_A });
    expect(Object.isFrozen(c.corsOrigins)).toBe(true);
    expect(Object.isFrozen(c.apiTokens)).toBe(true);
  });

  it('ignores variables it does not know', () => {
    expect(parseConfig({ SOMETHING_ELSE: 'x', PATH: '/usr/bin' })).toStrictEqual(parseConfig({}));
  });
});

describe('parseConfig: valid values', () => {
  it.each<[string, Env, Partial<Config>]>([
    // Numbers and their bounds; an empty value is the default.
    ['PORT=0 (any free port)', { PORT: '0' }, { port: 0 }],
    ['PORT=65535', { PORT: '65535' }, { port: 65535 }],
    ['PORT=""', { PORT: '' }, { port: 8000 }],
    ['MAX_BODY_BYTES=1', { MAX_BODY_BYTES: '1' }, { maxBodyBytes: 1 }],
    ['MAX_BODY_BYTES at 10 MiB', { MAX_BODY_BYTES: String(10 * 1024 * 1024) }, { maxBodyBytes: 10 * 1024 * 1024 }],
    ['MAX_BODY_BYTES=""', { MAX_BODY_BYTES: '' }, { maxBodyBytes: 102_400 }],
    ['SHUTDOWN_GRACE_MS at 10 minutes', { SHUTDOWN_GRACE_MS: '600000' }, { shutdownGraceMs: 600_000 }],
    ['DB_POOL_MAX=100', { DB_POOL_MAX: '100' }, { dbPoolMax: 100 }],
    ['DB_STATEMENT_TIMEOUT_MS', { DB_STATEMENT_TIMEOUT_MS: '250' }, { dbStatementTimeoutMs: 250 }],
    ['DB_ACQUIRE_TIMEOUT_MS=60000', { DB_ACQUIRE_TIMEOUT_MS: '60000' }, { dbAcquireTimeoutMs: 60_000 }],
    ['DB_CONNECT_TIMEOUT_MS=1', { DB_CONNECT_TIMEOUT_MS: '1' }, { dbConnectTimeoutMs: 1 }],
    ['STARTUP_DB_WAIT_MS=0 (no waiting)', { STARTUP_DB_WAIT_MS: '0' }, { startupDbWaitMs: 0 }],
    ['STARTUP_DB_WAIT_MS=""', { STARTUP_DB_WAIT_MS: '' }, { startupDbWaitMs: 10_000 }],
    ['REQUEST_TIMEOUT_MS', { REQUEST_TIMEOUT_MS: '1500' }, { requestTimeoutMs: 1500 }],
    ['LIVE_*', { LIVE_PING_MS: '250', LIVE_MAX_QUEUED: '50', LIVE_POLL_MS: '100' }, { live: { pingMs: 250, maxQueued: 50, pollMs: 100 } }],

    // Strings.
    ['HOST', { HOST: '::' }, { host: '::' }],
    ['DATA_DIR', { DATA_DIR: '/var/lib/health' }, { dataDir: '/var/lib/health' }],
    ['DB_JSON', { DB_JSON: '/tmp/db.json' }, { dbJsonPath: '/tmp/db.json' }],
    ['LOG_LEVEL=silent', { LOG_LEVEL: 'silent' }, { logLevel: 'silent' }],
    ['LOG_LEVEL=trace', { LOG_LEVEL: 'trace' }, { logLevel: 'trace' }],
    ['DATABASE_URL with the postgres scheme', { DATABASE_URL: 'postgres://u@h/db' }, { databaseUrl: 'postgres://u@h/db' }],
    [
      'DATABASE_URL with TLS parameters, as written',
      { DATABASE_URL: `${DB}?sslmode=verify-full` },
      { databaseUrl: `${DB}?sslmode=verify-full` },
    ],
    ['DATABASE_CA_CERT (PEM text)', { DATABASE_CA_CERT: PEM }, { databaseCaCert: PEM }],
    ['DATABASE_CA_CERT=""', { DATABASE_CA_CERT: '' }, { databaseCaCert: undefined }],

    // CORS_ORIGINS: exact origins normalised, patterns lower-cased, empty entries dropped.
    ['CORS_ORIGINS=""', { CORS_ORIGINS: '' }, { corsOrigins: DEFAULT_CORS_ORIGINS }],
    ['one origin', { CORS_ORIGINS: 'https://records.clinic.example' }, { corsOrigins: ['https://records.clinic.example'] }],
    [
      'an origin with a path, query and default port',
      { CORS_ORIGINS: 'https://App.Example.org:443/path?x=1' },
      { corsOrigins: ['https://app.example.org'] },
    ],
    ['an origin with a port', { CORS_ORIGINS: 'http://localhost:8080/' }, { corsOrigins: ['http://localhost:8080'] }],
    [
      'blank entries dropped',
      { CORS_ORIGINS: ' https://a.example , ,https://b.example, ' },
      { corsOrigins: ['https://a.example', 'https://b.example'] },
    ],
    ['a leftmost-label pattern', { CORS_ORIGINS: 'https://*.vercel.app' }, { corsOrigins: ['https://*.vercel.app'] }],
    ['a prefix pattern', { CORS_ORIGINS: 'https://clinic-*.pages.dev' }, { corsOrigins: ['https://clinic-*.pages.dev'] }],
    ['a pattern, upper case and trailing slash', { CORS_ORIGINS: 'HTTPS://*.Vercel.App/' }, { corsOrigins: ['https://*.vercel.app'] }],
    ['a pattern with a port', { CORS_ORIGINS: 'http://*.dev.example.com:8080' }, { corsOrigins: ['http://*.dev.example.com:8080'] }],
    [
      'patterns and origins mixed',
      { CORS_ORIGINS: 'https://*.vercel.app,http://127.0.0.1:5173' },
      { corsOrigins: ['https://*.vercel.app', 'http://127.0.0.1:5173'] },
    ],

    // TRUST_PROXY: true (every hop), false, or a number of hops.
    ['TRUST_PROXY=true', { TRUST_PROXY: 'true' }, { trustProxy: Number.POSITIVE_INFINITY }],
    ['TRUST_PROXY=false', { TRUST_PROXY: 'false' }, { trustProxy: 0 }],
    ['TRUST_PROXY=""', { TRUST_PROXY: '' }, { trustProxy: 0 }],
    ['TRUST_PROXY=0', { TRUST_PROXY: '0' }, { trustProxy: 0 }],
    ['TRUST_PROXY=1 (one hop, not "true")', { TRUST_PROXY: '1' }, { trustProxy: 1 }],
    ['TRUST_PROXY=32', { TRUST_PROXY: '32' }, { trustProxy: 32 }],

    // API_TOKENS: comma-separated, trimmed, empty entries dropped.
    ['API_TOKENS=""', { API_TOKENS: '' }, { apiTokens: [] }],
    ['one token of 16 characters', { API_TOKENS: 'x'.repeat(16) }, { apiTokens: [{ name: 'token-1', token: 'x'.repeat(16) }] }],
    [
      'two tokens with blanks',
      { API_TOKENS: ` ${TOKEN_A} , ,${TOKEN_B},` },
      {
        apiTokens: [
          { name: 'token-1', token: TOKEN_A },
          { name: 'token-2', token: TOKEN_B },
        ],
      },
    ],
    [
      'named tokens (name:token), mixed with a bare one',
      { API_TOKENS: `front-desk:${TOKEN_A},${TOKEN_B}` },
      {
        apiTokens: [
          { name: 'front-desk', token: TOKEN_A },
          { name: 'token-2', token: TOKEN_B },
        ],
      },
    ],
    ['only separators', { API_TOKENS: ' , ' }, { apiTokens: [] }],

    // WORKERS: explicit, or one per core on a PostgreSQL server and one on the embedded database.
    ['WORKERS=4', { WORKERS: '4' }, { workers: 4 }],
    ['WORKERS=64', { WORKERS: '64' }, { workers: 64 }],
    ['WORKERS="" on the embedded database', { WORKERS: '' }, { workers: 1 }],
    ['no WORKERS with DATABASE_URL', { DATABASE_URL: DB }, { workers: availableParallelism() }],
    ['WORKERS="" with DATABASE_URL', { DATABASE_URL: DB, WORKERS: '' }, { workers: availableParallelism() }],
    ['WORKERS=3 with DATABASE_URL', { DATABASE_URL: DB, WORKERS: '3' }, { workers: 3 }],
    ['DATABASE_URL="" is the embedded database', { DATABASE_URL: '' }, { workers: 1, databaseUrl: undefined }],
  ])('%s', (_label, env, expected) => {
    expect(parseConfig(env)).toMatchObject(expected);
  });

  describe.each<[string, keyof Config, boolean]>([
    ['MIGRATE_ON_START', 'migrateOnStart', false],
    ['SEED_DRY_RUN', 'seedDryRun', false],
    ['COALESCE_READS', 'coalesceReads', true],
  ])('flag %s', (variable, key, byDefault) => {
    it.each<[string | undefined, boolean]>([
      ['true', true],
      ['1', true],
      ['false', false],
      ['0', false],
      [undefined, byDefault],
    ])(`${variable}=%s`, (value, expected) => {
      expect(parseConfig({ [variable]: value })[key]).toBe(expected);
    });

    // .env.example and config.ts: "An empty value (`WORKERS=` in a .env file) means use the default".
    it(`${variable}="" is the default (${String(byDefault)})`, () => {
      expect(parseConfig({ [variable]: '' })[key]).toBe(byDefault);
    });
  });
});

describe('parseConfig: invalid values', () => {
  const failure = (env: Env): Error => {
    try {
      parseConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as Error;
    }
    throw new Error('parseConfig accepted an invalid environment');
  };

  it.each<[string, string]>([
    ['PORT', 'SECRET-VALUE-123'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'SECRET-VALUE-123'],
    ['DATABASE_URL', 'mysql://root:SECRET-VALUE-123@db/x'],
    ['DATABASE_URL', 'http://SECRET-VALUE-123.example/'],
    ['DATABASE_CA_CERT', 'SECRET-VALUE-123'],
    ['CORS_ORIGINS', 'https://ok.example,SECRET-VALUE-123'],
    ['CORS_ORIGINS', 'ftp://secret-value-123.example'],
    ['CORS_ORIGINS', 'https://*.secret-value-123'],
    ['CORS_ORIGINS', 'https://a.*.secret-value-123.example'],
    ['CORS_ORIGINS', 'https://secret-value-123.*.example'],
    ['LOG_LEVEL', 'SECRET-VALUE-123'],
    ['MIGRATE_ON_START', 'SECRET-VALUE-123'],
    ['MIGRATE_ON_START', 'TRUE'],
    ['SEED_DRY_RUN', 'yes'],
    ['COALESCE_READS', 'SECRET-VALUE-123'],
    ['MAX_BODY_BYTES', '10485761'],
    ['SHUTDOWN_GRACE_MS', '600001'],
    ['DB_POOL_MAX', '101'],
    ['DB_STATEMENT_TIMEOUT_MS', 'SECRET-VALUE-123'],
    ['DB_ACQUIRE_TIMEOUT_MS', '60001'],
    ['DB_CONNECT_TIMEOUT_MS', '-7'],
    ['STARTUP_DB_WAIT_MS', '-5'],
    ['STARTUP_DB_WAIT_MS', '600001'],
    ['REQUEST_TIMEOUT_MS', '1.5'],
    ['LIVE_PING_MS', '0'],
    ['LIVE_MAX_QUEUED', '100001'],
    ['LIVE_POLL_MS', 'SECRET-VALUE-123'],
    ['WORKERS', '65'],
    ['WORKERS', 'SECRET-VALUE-123'],
    ['TRUST_PROXY', 'SECRET-VALUE-123'],
    ['TRUST_PROXY', '33'],
    ['TRUST_PROXY', '-1'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', '1.5'],
    ['API_TOKENS', 'SECRET-VAL-1234'],
    ['API_TOKENS', `${TOKEN_A},SECRET-VAL-1234`],
    ['API_TOKENS', 'front-desk:SECRET-123'],
    ['API_TOKENS', `same:${TOKEN_A},same:${TOKEN_B}`],
  ])('%s=%s is named, not echoed', (variable, value) => {
    const { message } = failure({ [variable]: value });
    expect(message).toMatch(new RegExp(`^Invalid configuration:\\n  ${variable}: \\S`));
    expect(message).not.toContain(value);
    expect(message.toLowerCase()).not.toContain('secret');
    if (value.includes(TOKEN_A)) expect(message).not.toContain(TOKEN_A);
  });

  it.each<[string, string]>([
    ['HOST', ''],
    ['DATA_DIR', ''],
    ['DB_JSON', ''],
  ])('%s="" is rejected (no default for an empty path)', (variable, value) => {
    expect(failure({ [variable]: value }).message).toMatch(new RegExp(`^Invalid configuration:\\n  ${variable}: `));
  });

  it.each<[string, string, string]>([
    ['API_TOKENS', 'short-token', 'each token must be at least 16 characters'],
    ['DATABASE_CA_CERT', 'not pem', 'must be PEM text (-----BEGIN CERTIFICATE-----)'],
    ['PORT', '65536', 'must be at most 65535'],
    ['WORKERS', '0', 'must be at least 1'],
    ['LOG_LEVEL', 'verbose', 'must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"'],
    ['CORS_ORIGINS', 'https://*.com', 'a pattern must be scheme://*.domain.tld or scheme://prefix-*.domain.tld'],
    ['CORS_ORIGINS', '*', 'a pattern must be scheme://*.domain.tld or scheme://prefix-*.domain.tld'],
    ['CORS_ORIGINS', 'not a url', 'must be a valid url'],
    ['TRUST_PROXY', '33', 'must be at most 32'],
  ])('%s=%s says why: %s', (variable, value, why) => {
    expect(failure({ [variable]: value }).message).toBe(`Invalid configuration:\n  ${variable}: ${why}`);
  });

  it('names every invalid variable, one line each', () => {
    const { message, name } = failure({
      PORT: 'SECRET-VALUE-123',
      LOG_LEVEL: 'SECRET-VALUE-123',
      API_TOKENS: 'SECRET-VAL-1234',
      HOST: 'ok',
    });
    expect(name).toBe('ConfigError');
    const lines = message.split('\n');
    expect(lines[0]).toBe('Invalid configuration:');
    expect(
      lines
        .slice(1)
        .map((l) => l.trim().split(':')[0])
        .sort(),
    ).toStrictEqual(['API_TOKENS', 'LOG_LEVEL', 'PORT']);
    expect(message).not.toContain('SECRET');
  });

  // Number(' ') is 0: a PORT of blanks must not quietly become "any free port".
  it.each([' ', '\t'])('PORT=%j is the default or an error, never port 0', (blank) => {
    let port: number | undefined;
    try {
      port = parseConfig({ PORT: blank }).port;
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
    }
    expect(port).not.toBe(0);
  });
});
