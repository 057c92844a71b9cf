import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, parseConfig } from '../src/config.ts';
import { ROOT } from './support/process.ts';

describe('config', () => {
  it('has working defaults: embedded database, loopback, port 8000, the two dev-server origins under both loopback names', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: './.data',
      corsOrigins: ['http://localhost:3000', 'http://localhost:5173', 'http://127.0.0.1:3000', 'http://127.0.0.1:5173'],
      logLevel: 'info',
      migrateOnStart: false,
      maxBodyBytes: 100 * 1024,
      coalesceReads: true,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses every variable', () => {
    const c = parseConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgresql://u:p@db:5432/x',
      CORS_ORIGINS: 'https://app.example.org/, http://localhost:3000',
      MIGRATE_ON_START: 'true',
      LOG_LEVEL: 'warn',
      MAX_BODY_BYTES: '2048',
      SHUTDOWN_GRACE_MS: '500',
      DB_POOL_MAX: '3',
      COALESCE_READS: 'false',
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://u:p@db:5432/x',
      corsOrigins: ['https://app.example.org', 'http://localhost:3000'],
      migrateOnStart: true,
      logLevel: 'warn',
      maxBodyBytes: 2048,
      shutdownGraceMs: 500,
      dbPoolMax: 3,
      coalesceReads: false,
    });
    expect(parseConfig({ DATABASE_URL: '' }).databaseUrl).toBeUndefined();
  });

  it('.env.example lists every variable and parses as it is (empty values mean defaults)', () => {
    const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
    const env = Object.fromEntries(
      text
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(env).sort()).toEqual(Object.keys(configSchema.shape).sort());
    expect(parseConfig(env)).toEqual(parseConfig({}));
  });

  it.each([
    ['PORT', '70000'],
    ['PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://root:hunter2@db/x'],
    ['DATABASE_URL', 'hunter2'],
    ['CORS_ORIGINS', 'not a url hunter2'],
    ['LOG_LEVEL', 'hunter2'],
    ['MIGRATE_ON_START', 'hunter2'],
    ['MAX_BODY_BYTES', '0'],
    ['WORKERS', '0'],
    ['API_TOKENS', 'hunter2'],
  ])('rejects %s=%s naming the variable, not the value', (name, value) => {
    let error: unknown;
    try {
      parseConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(name);
    expect(message).not.toContain(value);
    expect(message).not.toContain('hunter2');
  });
});
