/**
 * Optimistic concurrency: single-record answers carry the record's version (REST: a strong ETag,
 * bodies keep json-server's seven keys; tRPC: `version`), and a write based on a stale version is
 * refused (412 / PRECONDITION_FAILED) with nothing written. Without If-Match, json-server's
 * last-write-wins behaviour is unchanged (the contract suite).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { RESET_TABLES } from './support/database.ts';

const KEYS = ['age', 'gender', 'id', 'lastVisit', 'medicalCondition', 'name', 'patientID'];
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.stop());
beforeEach(() => t.db.query(RESET_TABLES));

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const create = async (patientID = 'C1') => {
  const res = await postJson(t.baseUrl, '/patients', samplePatient({ patientID }));
  expect(res.status).toBe(201);
  return { id: ((await res.json()) as { id: number }).id, etag: res.headers.get('etag')! };
};
const eventsOf = async (id: number) =>
  (await t.db.query<{ op: string }>('select op from patient_events where patient_id = $1 order by id', [id])).map((e) => e.op);
const stored = async (id: number) =>
  (await t.db.query<{ age: number; version: number }>('select age, version from patients where id = $1', [id]))[0];

describe('REST: ETag and If-Match', () => {
  it('GET, POST, PUT and PATCH answer a strong ETag for the version; bodies keep the seven json-server keys', async () => {
    const { id, etag } = await create();
    expect(etag).toBe('"1"');
    const got = await send('GET', `/patients/${id}`);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(Object.keys((await got.json()) as object).sort()).toEqual(KEYS);
    const put = await send('PUT', `/patients/${id}`, samplePatient({ patientID: 'C1', age: 50 }));
    expect(put.headers.get('etag')).toBe('"2"');
    const patched = await send('PATCH', `/patients/${id}`, { age: 51 });
    expect(patched.headers.get('etag')).toBe('"3"');
    expect(Object.keys((await patched.json()) as object).sort()).toEqual(KEYS);
    expect(patched.headers.get('access-control-expose-headers')).toBe('ETag');
    // Lists carry no versions: each element has the seven keys only.
    for (const p of (await (await send('GET', '/patients')).json()) as object[]) expect(Object.keys(p).sort()).toEqual(KEYS);
  });

  it('a write with a stale If-Match is 412 (JSON error) and writes nothing; a current one applies', async () => {
    const { id, etag } = await create();
    const current = await send('PATCH', `/patients/${id}`, { age: 41 }, { 'if-match': etag });
    expect(current.status).toBe(200);
    const stale = await send('PATCH', `/patients/${id}`, { age: 99 }, { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect(await stale.json()).toEqual({ code: 'PRECONDITION_FAILED', message: 'The patient changed since the version given' });
    expect(await stored(id)).toEqual({ age: 41, version: 2 });
    expect((await send('PUT', `/patients/${id}`, samplePatient({ patientID: 'C1' }), { 'if-match': '"1"' })).status).toBe(412);
    expect((await send('DELETE', `/patients/${id}`, undefined, { 'if-match': '"1"' })).status).toBe(412);
    expect(await eventsOf(id)).toEqual(['create', 'update']);
    expect((await send('DELETE', `/patients/${id}`, undefined, { 'if-match': '"2"' })).status).toBe(200);
    expect(await eventsOf(id)).toEqual(['create', 'update', 'delete']);
  });

  it.each([
    ['*', 200],
    ['W/"1"', 412],
    ['"1", "2"', 412],
    ['garbage', 412],
    ['"99999999999"', 412],
  ])('If-Match: %s → %i', async (ifMatch, status) => {
    const { id } = await create();
    expect((await send('PATCH', `/patients/${id}`, { age: 30 }, { 'if-match': ifMatch })).status).toBe(status);
  });

  it('an unknown id is 404 {} with or without If-Match', async () => {
    const res = await send('PATCH', '/patients/4242', { age: 30 }, { 'if-match': '"1"' });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('{}');
    expect((await send('DELETE', '/patients/4242', undefined, { 'if-match': '"1"' })).status).toBe(404);
  });

  it('two clients read the same patient and both PATCH with their If-Match: exactly one 200, one 412, one change in the history', async () => {
    const { id } = await create();
    const [a, b] = await Promise.all([send('GET', `/patients/${id}`), send('GET', `/patients/${id}`)]);
    const [ra, rb] = await Promise.all([
      send('PATCH', `/patients/${id}`, { age: 60 }, { 'if-match': a.headers.get('etag')! }),
      send('PATCH', `/patients/${id}`, { age: 70 }, { 'if-match': b.headers.get('etag')! }),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 412]);
    expect(await eventsOf(id)).toEqual(['create', 'update']);
    const winner = ra.status === 200 ? 60 : 70;
    expect(await stored(id)).toEqual({ age: winner, version: 2 });
  });

  it('in a burst of changes of one patient, a stale If-Match fails alone; the others all apply, each its own version', async () => {
    const { id } = await create();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send('PATCH', `/patients/${id}`, { age: i + 1 }, i === 10 ? { 'if-match': '"1"' } : {})),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 412).length).toBeLessThanOrEqual(1);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(19);
    const etags = answers.filter((r) => r.status === 200).map((r) => r.headers.get('etag'));
    expect(new Set(etags).size).toBe(etags.length);
    const applied = statuses.filter((s) => s === 200).length;
    expect((await stored(id))?.version).toBe(1 + applied);
    expect((await eventsOf(id)).filter((op) => op === 'update')).toHaveLength(applied);
  });
});

describe('tRPC: version and expectedVersion', () => {
  it('byId gives the version; a stale expectedVersion is PRECONDITION_FAILED and writes nothing', async () => {
    const api = createClient({ baseUrl: t.baseUrl });
    const created = await api.patient.create.mutate(samplePatient({ patientID: 'T1' }));
    expect(created.version).toBe(1);
    const { version } = await api.patient.byId.query({ id: created.id });
    expect((await api.patient.update.mutate({ id: created.id, age: 45, expectedVersion: version })).version).toBe(2);
    await expect(api.patient.update.mutate({ id: created.id, age: 46, expectedVersion: version })).rejects.toMatchObject({
      data: { code: 'PRECONDITION_FAILED', httpStatus: 412 },
    });
    await expect(
      api.patient.replace.mutate({ ...samplePatient({ patientID: 'T1' }), id: created.id, expectedVersion: 1 }),
    ).rejects.toMatchObject({
      data: { code: 'PRECONDITION_FAILED' },
    });
    await expect(api.patient.delete.mutate({ id: created.id, expectedVersion: 1 })).rejects.toMatchObject({
      data: { code: 'PRECONDITION_FAILED' },
    });
    expect(await stored(created.id)).toEqual({ age: 45, version: 2 });
    expect(await api.patient.delete.mutate({ id: created.id, expectedVersion: 2 })).toEqual({});
  });
});
