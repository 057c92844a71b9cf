import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.ts';
import { type PatientInput, postJson, startTestApp, type TestApp } from './support/app.ts';

const MARKER = 'ZZPHIMARKER';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'trace' });
});
afterAll(() => t?.stop());

/** A valid patient with the marker in its text fields; invalid bodies are spread from it (`{ ...marked(), age: MARKER }`). */
const marked = (overrides: Partial<PatientInput> = {}): PatientInput => ({
  patientID: `${MARKER}-id`,
  name: `${MARKER} name`,
  age: 44,
  gender: 'Female',
  medicalCondition: `${MARKER} condition`,
  lastVisit: '2024-01-01',
  ...overrides,
});

describe('logs', () => {
  it('write one JSON line per request with id, method, route template, status and duration', async () => {
    const res = await fetch(`${t.baseUrl}/patients`, { headers: { 'x-request-id': 'log-check-1' } });
    expect(res.status).toBe(200);
    const line = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === 'log-check-1');
    expect(line).toMatchObject({ msg: 'request', method: 'GET', route: '/patients', status: 200 });
    expect(typeof line?.ms).toBe('number');
  });

  it('never contain a patient field, a body or a query value, at the most verbose level', async () => {
    const client = createClient({ baseUrl: t.baseUrl });
    // Valid and invalid writes on both surfaces, reads with marked query strings and paths.
    expect((await postJson(t.baseUrl, '/patients', marked())).status).toBe(201);
    expect((await postJson(t.baseUrl, '/patients', marked())).status).toBe(409);
    expect((await postJson(t.baseUrl, '/patients', { ...marked({ patientID: `${MARKER}-2` }), age: `${MARKER}` })).status).toBe(400);
    expect((await postJson(t.baseUrl, '/patients', `{"name":"${MARKER}",`)).status).toBe(400);
    expect((await postJson(t.baseUrl, '/patients', marked({ patientID: `${MARKER}-3`, lastVisit: MARKER }))).status).toBe(400);
    expect((await fetch(`${t.baseUrl}/patients?name=${MARKER}&q=${MARKER}`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/patients/${MARKER}`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/${MARKER}/x`)).status).toBe(404);
    await client.patient.create.mutate(marked({ patientID: `${MARKER}-4` }));
    await client.patient.create.mutate(marked({ patientID: `${MARKER}-4` })).catch(() => undefined);
    // @ts-expect-error the marker is no gender: an invalid value the server must not log
    await client.patient.create.mutate(marked({ patientID: `${MARKER}-5`, gender: MARKER })).catch(() => undefined);
    await client.patient.list.query();
    await client.patient.search.query({ q: MARKER, filter: { name: { like: MARKER, eq: MARKER } } });
    await client.patient.search.query({ filter: { name: { like: `(${MARKER}` } } }).catch(() => undefined);
    expect((await fetch(`${t.baseUrl}/trpc/${MARKER}`)).status).toBe(404);
    // Every single-record route, valid and invalid, on both surfaces.
    const [first] = await client.patient.list.query();
    const id = first!.id;
    const send = (method: string, path: string, body?: unknown) =>
      fetch(`${t.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    expect((await send('GET', `/patients/${id}`)).status).toBe(200);
    expect((await send('PUT', `/patients/${id}`, marked({ patientID: `${MARKER}-6` }))).status).toBe(200);
    expect((await send('PUT', `/patients/${id}`, { ...marked(), age: MARKER })).status).toBe(400);
    expect((await send('PATCH', `/patients/${id}`, { name: `${MARKER} again` })).status).toBe(200);
    expect((await send('PATCH', `/patients/${id}`, { lastVisit: MARKER })).status).toBe(400);
    expect((await send('PATCH', `/patients/${MARKER}`, { name: MARKER })).status).toBe(404);
    expect((await send('GET', `/patients?name_like=(${MARKER}`)).status).toBe(400);
    expect((await send('GET', `/patients?_limit=${MARKER}`)).status).toBe(400);
    await client.patient.byId.query({ id });
    await client.patient.update.mutate({ id, medicalCondition: `${MARKER} changed` });
    await client.patient.replace.mutate({ id, ...marked({ patientID: `${MARKER}-7` }) });
    await client.patient.update.mutate({ id, age: -1 }).catch(() => undefined);
    expect((await send('DELETE', `/patients/${id}`)).status).toBe(200);
    await client.patient.delete.mutate({ id }).catch(() => undefined);
    expect(t.logs.length).toBeGreaterThan(10);
    const _all = t.logs.join('\n');
    expect(t.logs.filter((l) => l.includes(MARKER))).toEqual([]);
  });
});

describe('the server process', () => {
  it('writes no marker to stdout or stderr at trace level, whatever the requests', async () => {
    const { createTestDatabase } = await import('./support/database.ts');
    const { startServerProcess } = await import('./support/process.ts');
    const db = await createTestDatabase();
    const server = startServerProcess({ DATABASE_URL: db.url, MIGRATE_ON_START: 'true', LOG_LEVEL: 'trace' });
    try {
      const base = `http://127.0.0.1:${await server.listening}`;
      const send = (method: string, path: string, body?: unknown) =>
        fetch(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      expect((await send('POST', '/patients', marked())).status).toBe(201);
      expect((await send('POST', '/patients', marked())).status).toBe(409);
      expect((await send('POST', '/patients', { ...marked(), age: MARKER })).status).toBe(400);
      expect((await send('PATCH', '/patients/1', { name: `${MARKER}!` })).status).toBe(200);
      expect((await send('PUT', '/patients/1', marked({ lastVisit: `${MARKER}` }))).status).toBe(400);
      expect((await send('GET', `/patients?q=${MARKER}&name_like=(${MARKER}`)).status).toBe(400);
      expect((await send('GET', `/patients/${MARKER}`)).status).toBe(404);
      expect((await send('GET', `/trpc/patient.list?input=${encodeURIComponent(JSON.stringify({ json: { q: MARKER } }))}`)).status).toBe(
        200,
      );
      expect((await send('DELETE', '/patients/1')).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await db.drop();
    }
    expect(server.output()).toContain('"msg":"request"');
    expect(server.output()).not.toContain(MARKER);
  });
});
