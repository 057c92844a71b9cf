import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.ts';
import { postJson, startTestApp, type TestApp } from './support/app.ts';

const MARKER = 'ZZPHIMARKER';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'trace' });
});
afterAll(() => t?.stop());

const marked = (overrides: Record<string, unknown> = {}) => ({
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
    expect((await postJson(t.baseUrl, '/patients', marked({ patientID: `${MARKER}-2`, age: `${MARKER}` }))).status).toBe(400);
    expect((await postJson(t.baseUrl, '/patients', `{"name":"${MARKER}",`)).status).toBe(400);
    expect((await postJson(t.baseUrl, '/patients', marked({ patientID: `${MARKER}-3`, lastVisit: MARKER }))).status).toBe(400);
    expect((await fetch(`${t.baseUrl}/patients?name=${MARKER}&q=${MARKER}`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/patients/${MARKER}`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/${MARKER}/x`)).status).toBe(404);
    await client.patient.create.mutate(marked({ patientID: `${MARKER}-4` }) as never);
    await client.patient.create.mutate(marked({ patientID: `${MARKER}-4` }) as never).catch(() => undefined);
    await client.patient.create.mutate(marked({ patientID: `${MARKER}-5`, gender: MARKER }) as never).catch(() => undefined);
    await client.patient.list.query();
    expect((await fetch(`${t.baseUrl}/trpc/${MARKER}`)).status).toBe(404);
    expect(t.logs.length).toBeGreaterThan(10);
    const all = t.logs.join('\n');
    expect(t.logs.filter((l) => l.includes(MARKER))).toEqual([]);
  });
});
