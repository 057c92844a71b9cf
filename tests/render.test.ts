/**
 * render.yaml, the Render Blueprint: valid for Render, and consistent with this service.
 *
 * tests/fixtures/render-blueprint.schema.json is Render's published Blueprint JSON Schema
 * (https://render.com/schema/render.yaml.json, draft 2020-12; Render's docs point IDEs at it, and
 * SchemaStore's "Render Blueprints" entry names the same URL). This machine cannot reach render.com:
 * the copy was taken from the GitHub repository infoworksdomain-blip/PostmindStudio, file
 * ops/render/render.yaml.schema.json at commit a5784dc1121ac9c5a62ac27e1cd457e9b399dc3b, which
 * vendors it byte for byte (downloaded 2026-09-28, upstream Last-Modified 26 Sep 2026) and pins the
 * same sha256 as below. To refresh: download the URL over the file and update SCHEMA_SHA256.
 *
 * Beyond the schema: every env key is a setting src/config.ts reads, the literal values parse, the
 * build/pre-deploy/start commands name scripts and files that exist, and the pre-deploy and start
 * commands are run for real against an empty database, as Render would run them.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { appRouter } from '../src/api/router.ts';
import { configSchema, parseConfig } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { childEnv, ROOT, run } from './support/process.ts';

const SCHEMA_SHA256 = '57aa0a1ff9c3b2d0fcb91b790b7b285aef6397adb0c92930e6e601054444cfe5';

interface EnvVar {
  key: string;
  value?: string | number;
  sync?: boolean;
  fromDatabase?: { name: string; property: string };
}
interface Service {
  type: string;
  name: string;
  runtime: string;
  buildCommand: string;
  preDeployCommand: string;
  startCommand: string;
  healthCheckPath: string;
  maxShutdownDelaySeconds: number;
  envVars: EnvVar[];
}
interface Blueprint {
  services: Service[];
  databases: { name: string; postgresMajorVersion: string; ipAllowList: unknown[] }[];
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const blueprintText = read('render.yaml');
const blueprint = parse(blueprintText, { uniqueKeys: true }) as Blueprint;
const schemaText = read('tests/fixtures/render-blueprint.schema.json');
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  engines: { node: string };
};

// ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020,
) => Ajv2020;
// The schema is draft 2020-12 (unevaluatedProperties). Unknown keywords and formats still throw;
// strictTypes is off because Render's schema puts `required` next to no `type` here and there.
const ajv = addFormats(new Ajv2020({ allErrors: true, strictTypes: false }));
const validate = ajv.compile(JSON.parse(schemaText) as object);
const errorsOf = (doc: unknown): ErrorObject[] => (validate(doc) ? [] : [...(validate.errors ?? [])]);

const web = blueprint.services.find((s) => s.type === 'web')!;
const env = new Map(web.envVars.map((e) => [e.key, e]));
/** The blueprint's literal values, as strings (what the process sees). */
const literalEnv = Object.fromEntries(web.envVars.filter((e) => e.value !== undefined).map((e) => [e.key, String(e.value)]));

describe('render.yaml against Render’s Blueprint schema', () => {
  it('uses the vendored schema unchanged', () => {
    expect(createHash('sha256').update(schemaText.replace(/\r\n/g, '\n')).digest('hex')).toBe(SCHEMA_SHA256);
    expect(JSON.parse(schemaText)).toMatchObject({ $id: 'https://render.com/schema/render.yaml.json' });
  });

  it('is valid', () => {
    expect(errorsOf(blueprint)).toEqual([]);
  });

  // The validator must be able to say no: each mutation breaks one documented rule.
  const mutations: [string, (b: Blueprint) => void, string][] = [
    ['an unknown runtime', (b) => (b.services[0]!.runtime = 'nodejs'), '/services/0/runtime'],
    ['a shutdown delay over 300 s', (b) => (b.services[0]!.maxShutdownDelaySeconds = 301), '/services/0/maxShutdownDelaySeconds'],
    ['a misspelt field', (b) => Object.assign(b.services[0]!, { healthcheckPath: '/health' }), '/services/0'],
    [
      'a PostgreSQL version as a number',
      (b) => Object.assign(b.databases[0]!, { postgresMajorVersion: 17 }),
      '/databases/0/postgresMajorVersion',
    ],
    [
      'an unknown database property',
      (b) => (b.services[0]!.envVars.find((e) => e.fromDatabase)!.fromDatabase!.property = 'url'),
      '/services/0/envVars/',
    ],
  ];
  it.each(mutations)('rejects %s', (_label, mutate, path) => {
    const copy = structuredClone(blueprint);
    mutate(copy);
    const errors = errorsOf(copy);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((e) => e.instancePath).some((p) => p.startsWith(path))).toBe(true);
  });
});

describe('render.yaml against this service', () => {
  it('sets only variables the service reads, never PORT (Render sets it)', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const key of env.keys()) expect(known, key).toContain(key);
    expect(env.has('PORT')).toBe(false);
  });

  it('has literal values the service accepts, and secrets only as sync: false', () => {
    // DATABASE_URL comes from the database; the secrets are typed in the dashboard.
    const config = parseConfig({ ...literalEnv, DATABASE_URL: 'postgresql://u:p@dpg-example-a/health' });
    expect(config.host).toBe('0.0.0.0');
    expect(config.trustProxy).toBeGreaterThanOrEqual(1);
    for (const secret of ['CORS_ORIGINS', 'API_TOKENS']) {
      expect(env.get(secret), secret).toEqual({ key: secret, sync: false });
    }
  });

  it('takes DATABASE_URL from the blueprint’s own internal-only PostgreSQL 17', () => {
    const from = env.get('DATABASE_URL')?.fromDatabase;
    expect(from?.property).toBe('connectionString');
    const database = blueprint.databases.find((d) => d.name === from?.name);
    expect(database).toMatchObject({ postgresMajorVersion: '17', ipAllowList: [] });
  });

  it('runs on Node 24 (.node-version), a version package.json allows', () => {
    expect(web.runtime).toBe('node');
    expect(read('.node-version').trim()).toBe('24');
    // NODE_VERSION would override the file on Render: there must be one source of truth.
    expect(env.has('NODE_VERSION')).toBe(false);
    expect(pkg.engines.node).toMatch(/^>=\s*(\d+)/);
    expect(24).toBeGreaterThanOrEqual(Number(/^>=\s*(\d+)/.exec(pkg.engines.node)![1]));
  });

  it('gives SIGTERM at least the shutdown grace period plus 3 s', () => {
    const graceMs = parseConfig({}).shutdownGraceMs;
    expect(web.maxShutdownDelaySeconds).toBeGreaterThanOrEqual(graceMs / 1000 + 3);
  });

  it('checks the health procedure’s route', () => {
    const meta = (appRouter._def.procedures.health as unknown as { _def: { meta: { openapi: { path: string } } } })._def.meta;
    expect(web.healthCheckPath).toBe(meta.openapi.path);
  });

  it('builds with commands that exist: npm ci (lock file present) and package.json scripts', () => {
    const steps = web.buildCommand.split('&&').map((s) => s.trim());
    expect(steps[0]).toBe('npm ci');
    expect(existsSync(join(ROOT, 'package-lock.json'))).toBe(true);
    for (const step of steps.slice(1)) {
      const script = /^npm run (\S+)$/.exec(step)?.[1];
      expect(script && pkg.scripts[script], step).toBeTruthy();
    }
    // The start command's file is the bundle of an entry point the build script names (dist/x.cjs
    // from x.ts); the test setup ran that script, so the file is there.
    const [bin, file, ...rest] = web.startCommand.split(/\s+/);
    expect([bin, rest]).toEqual(['node', []]);
    expect(pkg.scripts.build).toBe('node scripts/build.mjs');
    expect(read('scripts/build.mjs')).toContain(`'${file!.replace(/^dist\//, '').replace(/\.cjs$/, '.ts')}'`);
    expect(existsSync(join(ROOT, file!)), file).toBe(true);
  });

  it('runs the pre-deploy command with a production dependency (Render may prune dev ones)', () => {
    const [npx, tool] = web.preDeployCommand.split(/\s+/);
    expect(npx).toBe('npx');
    expect(pkg.dependencies).toHaveProperty('@mikro-orm/cli');
    expect(existsSync(join(ROOT, 'node_modules/.bin', tool!))).toBe(true);
  });
});

describe('render.yaml, run as Render runs it', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  // What the dashboard would hold for the sync: false secrets.
  const deployEnv = () => ({
    ...literalEnv,
    DATABASE_URL: db.url,
    CORS_ORIGINS: 'https://records.clinic.example',
    API_TOKENS: 'render-test-token-0123456789',
  });

  it('the pre-deploy command migrates an empty database; the start command then serves the health check', async () => {
    // Through a shell, as Render runs it (npx reads .npmrc: the CLI loads its TypeScript config via tsx).
    const migrate = await run('sh', ['-c', web.preDeployCommand], deployEnv(), 120_000);
    expect(migrate.code, migrate.stdout + migrate.stderr).toBe(0);
    const tables = await db.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public'`);
    expect(tables.map((t) => t.table_name)).toContain('patients');

    // Without MIGRATE_ON_START the server refuses a database with pending migrations, so this
    // start also proves the pre-deploy step left nothing pending. PORT: Render's job.
    const [, ...args] = web.startCommand.split(/\s+/);
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: childEnv({ COALESCE_READS: 'false', ...deployEnv(), PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const line = output.split('\n').find((l) => l.includes('"msg":"listening"'));
          if (line) resolve((JSON.parse(line) as { port: number }).port);
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        void exited.then((code) => reject(new Error(`exited ${code} before listening:\n${output}`)));
      });
      expect(output).toContain('"host":"0.0.0.0"');
      const health = await fetch(`http://127.0.0.1:${port}${web.healthCheckPath}`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'healthy', database: 'connected' });
    } finally {
      child.kill('SIGTERM');
    }
    // Render waits maxShutdownDelaySeconds after SIGTERM, then kills: the process must be done by then.
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), web.maxShutdownDelaySeconds * 1000))]);
    expect(code, output).toBe(0);
  }, 150_000);
});
