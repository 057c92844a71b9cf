import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/api/router.ts';
import { createClient } from '../src/client.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { startServerProcess } from './support/process.ts';

const TOKEN = 'tok-0123456789abcdef-first';
const OTHER = 'tok-fedcba9876543210-second';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ API_TOKENS: `${TOKEN}, ${OTHER}` });
});
afterAll(() => t?.stop());

const valid = { patientID: 'A001', name: 'Auth Test', age: 30, gender: 'Female', medicalCondition: 'None', lastVisit: '2024-01-01' };
const restRoutes: [string, string, unknown?][] = [
  ['GET', '/patients'],
  ['GET', '/patients?_page=1'],
  ['GET', '/patients/1'],
  ['POST', '/patients', valid],
  ['PUT', '/patients/1', valid],
  ['PATCH', '/patients/1', { age: 1 }],
  ['DELETE', '/patients/1'],
];
const call = (method: string, path: string, body?: unknown, auth?: string) =>
  fetch(`${t.baseUrl}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(auth ? { authorization: auth } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

describe('with API_TOKENS set', () => {
  it('every patient REST route answers 401 JSON without a valid bearer token, before looking at the input', async () => {
    for (const auth of [undefined, 'Bearer wrong-token-0000000000', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer']) {
      for (const [method, path, body] of restRoutes) {
        const res = await call(method, path, body ?? (method === 'POST' ? { junk: true } : undefined), auth);
        expect(res.status, `${method} ${path} ${auth}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toEqual({ message: 'Missing or invalid bearer token', code: 'UNAUTHORIZED' });
      }
    }
    expect(await t.db.query('select id from patients')).toHaveLength(0);
  });

  it('every patient procedure on tRPC answers UNAUTHORIZED without a token', async () => {
    const anonymous = createClient({ baseUrl: t.baseUrl, batch: false, EventSource });
    const names = Object.keys(appRouter._def.procedures).filter((n) => n.startsWith('patient.'));
    expect(names.sort()).toEqual([
      'patient.byId',
      'patient.create',
      'patient.delete',
      'patient.history',
      'patient.historyList',
      'patient.list',
      'patient.onChange',
      'patient.replace',
      'patient.search',
      'patient.update',
    ]);
    for (const name of names) {
      const [, proc] = name.split('.') as [string, string];
      const type = (appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>)[name]!._def.type;
      const p = (
        anonymous.patient as unknown as Record<
          string,
          {
            query: (i: unknown) => Promise<unknown>;
            mutate: (i: unknown) => Promise<unknown>;
            subscribe: (i: unknown, o: { onError: (e: unknown) => void }) => { unsubscribe(): void };
          }
        >
      )[proc]!;
      const attempt =
        type === 'subscription'
          ? new Promise((resolve) => {
              const sub = p.subscribe(
                {},
                {
                  onError: (e) => {
                    sub.unsubscribe();
                    resolve(e);
                  },
                },
              );
            })
          : type === 'query'
            ? p.query(proc === 'search' ? {} : { id: 1 })
            : p.mutate({ id: 1, ...valid });
      const err = (await attempt.catch((e: unknown) => e)) as { data?: { code?: string; httpStatus?: number } };
      expect(err.data?.code, name).toBe('UNAUTHORIZED');
      expect(err.data?.httpStatus).toBe(401);
    }
  });

  it('a configured token opens both surfaces (either token works)', async () => {
    expect((await call('POST', '/patients', valid, `Bearer ${TOKEN}`)).status).toBe(201);
    expect((await call('GET', '/patients/1', undefined, `bearer ${OTHER}`)).status).toBe(200);
    const api = createClient({ baseUrl: t.baseUrl, headers: { authorization: `Bearer ${OTHER}` } });
    expect((await api.patient.list.query()).map((p) => p.patientID)).toEqual(['A001']);
  });

  it('/health stays public and says nothing about patients', async () => {
    const res = await call('GET', '/health');
    expect(res.status).toBe(200);
    expect(Object.keys((await res.json()) as object).sort()).toEqual(['database', 'status', 'timestamp']);
    const api = createClient({ baseUrl: t.baseUrl });
    expect((await api.health.query()).status).toBe('healthy');
  });

  it('the OpenAPI document declares the bearer scheme on patient routes only', async () => {
    const doc = (await (await call('GET', '/openapi.json')).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/patients']!.get!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/patients/{id}']!.delete!.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/health']!.get!.security ?? []).toEqual([]);
  });

  it('patient responses are not cacheable', async () => {
    const res = await call('GET', '/patients', undefined, `Bearer ${TOKEN}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('API_TOKENS', () => {
  it('tokens shorter than 16 characters are a configuration error', async () => {
    const server = startServerProcess({ API_TOKENS: 'short' });
    expect(await server.exited).toBe(78);
    expect(server.output()).toContain('API_TOKENS');
    expect(server.output()).not.toContain('short,');
  });

  it('unset on a non-loopback address: the server warns at start', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const server = startServerProcess({ HOST: '0.0.0.0', DATA_DIR: join(mkdtempSync(join(tmpdir(), 'auth-')), 'd') });
    await server.listening;
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/"level":"warn".*without API_TOKENS/);
  });
});
