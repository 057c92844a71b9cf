/**
 * README's "Deploy to Render", followed word for word where this machine can: render.yaml's
 * pre-deploy and start commands, with render.yaml's own environment, against a PostgreSQL that
 * accepts TLS only (verified with the CA), the db.json import step from the README over TLS, and
 * the service behind a TLS-terminating nginx as Render's proxy. (The build command's `npm ci`
 * would reinstall the dependencies this suite runs on; `npm run build` is what it does after, and
 * the suite's global setup runs it.)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from '../src/net.ts';
import { type Answer, exchange } from './support/http.ts';
import { NGINX, type Nginx, startNginx } from './support/nginx.ts';
import { ROOT, run, type ServerProcess, startServerProcess } from './support/process.ts';

const TLS_URL = process.env.TEST_TLS_DATABASE_URL || undefined;
const CA_FILE = process.env.TEST_TLS_CA_FILE || undefined;

interface Blueprint {
  services: {
    type: string;
    preDeployCommand: string;
    startCommand: string;
    healthCheckPath: string;
    envVars: { key: string; value?: string | number }[];
  }[];
}
const web = (parse(readFileSync(join(ROOT, 'render.yaml'), 'utf8')) as Blueprint).services.find((s) => s.type === 'web')!;
const blueprintEnv = Object.fromEntries(web.envVars.filter((e) => e.value !== undefined).map((e) => [e.key, String(e.value)]));

describe.runIf(TLS_URL && CA_FILE && existsSync(NGINX))('a Render deploy rehearsed: TLS-only PostgreSQL, TRUST_PROXY behind nginx', () => {
  const name = `hm_deploy_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let databaseUrl: string;
  let service: ServerProcess | undefined;
  let nginx: Nginx | undefined;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: TLS_URL, ssl: { ca: readFileSync(CA_FILE!) } });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const url = new URL(TLS_URL!);
    url.pathname = `/${name}`;
    url.search = `?sslmode=verify-full&sslrootcert=${encodeURIComponent(CA_FILE!)}`;
    databaseUrl = url.toString();
  });
  afterAll(async () => {
    if (service) {
      service.child.kill('SIGKILL');
      await service.exited;
    }
    await nginx?.stop();
    await admin?.query(`drop database if exists ${name} with (force)`);
    await admin?.end();
  });

  it('pre-deploy migrates over TLS, the README import seeds, the start command serves through the proxy with https URLs, SIGTERM exits 0', async () => {
    const env = { ...blueprintEnv, DATABASE_URL: databaseUrl, CORS_ORIGINS: 'https://records.clinic.example', API_TOKENS: '' };
    const migrate = await run('sh', ['-c', web.preDeployCommand], env, 120_000);
    expect(migrate.code, migrate.stdout + migrate.stderr).toBe(0);

    // README step 4: DB_JSON=seeders/db.json npx mikro-orm seeder:run
    const seed = await run('sh', ['-c', 'npx mikro-orm seeder:run'], { ...env, DB_JSON: 'seeders/db.json' }, 120_000);
    expect(seed.code, seed.stdout + seed.stderr).toBe(0);
    expect(seed.stdout).toMatch(/Seed summary: read \d+, inserted \d+/);

    const port = await freePort();
    expect(web.startCommand).toBe('node dist/src/main.cjs');
    service = startServerProcess({ ...env, PORT: String(port) });
    await service.listening;
    expect(service.output()).toContain('"tls":true');
    nginx = await startNginx(port);

    const health = await viaProxy(nginx, 'GET', web.healthCheckPath);
    expect(health.status).toBe(200);
    const created = await viaProxy(nginx, 'POST', '/patients', {
      patientID: 'RENDER1',
      name: 'Deploy Rehearsal',
      age: 41,
      gender: 'Other',
      medicalCondition: 'None',
      lastVisit: '2024-05-05',
    });
    expect(created.status).toBe(201);
    const location = String(created.headers.location);
    expect(location).toMatch(new RegExp(`^https://localhost:${nginx.port}/patients/\\d+$`));
    const followed = await viaProxy(nginx, 'GET', new URL(location).pathname);
    expect(JSON.parse(followed.body)).toMatchObject({ patientID: 'RENDER1' });
    const list = JSON.parse((await viaProxy(nginx, 'GET', '/patients?patientID=P001')).body) as unknown[];
    expect(list).toHaveLength(1);

    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    service = undefined;
  }, 180_000);
});

function viaProxy(nginx: Nginx, method: string, path: string, body?: unknown): Promise<Answer> {
  return exchange(`https://localhost:${nginx.port}${path}`, { method, ca: nginx.ca, family: 4, agent: false }, body);
}
