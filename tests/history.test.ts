/**
 * The change history (patient_events): every acknowledged write has exactly one event, written by
 * the same statement; a failed write has none; events cannot be changed; the history reads back
 * over REST (json-server paging) and tRPC (cursor), with the actor named by its API token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.ts';
import { importPatients } from '../src/patients/patient.import.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { RESET_TABLES, resetSql } from './support/database.ts';

const TOKEN = 'front-desk-token-0123456789';
const OTHER = 'unnamed-token-abcdefghijklmnop';

interface Event {
  id: number;
  op: string;
  at: string;
  actor: string;
  requestId: string | null;
  changes: Record<string, { from: unknown; to: unknown }>;
}

let t: TestApp;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  t = await startTestApp({ API_TOKENS: `front-desk:${TOKEN},${OTHER}` });
});
afterAll(() => t?.stop());
beforeEach(() => t.db.query(RESET_TABLES));

const events = (patientId?: number) =>
  t.db.query<{ id: string; patient_id: number; op: string; actor: string; request_id: string | null; changes: Event['changes'] }>(
    `select id, patient_id, op, actor, request_id, changes from patient_events ${patientId ? 'where patient_id = $1' : ''} order by id`,
    patientId ? [patientId] : [],
  );
const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...auth, ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const create = async (patientID: string, headers: Record<string, string> = {}) => {
  const res = await postJson(t.baseUrl, '/patients', samplePatient({ patientID }), { ...auth, ...headers });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number };
};

describe('an event with every write, in the same statement', () => {
  it('create, replace, update and delete each write one event: op, changed fields from → to, actor, request id', async () => {
    const { id } = await create('H1', { 'x-request-id': 'req-create' });
    expect(
      (await send('PUT', `/patients/${id}`, samplePatient({ patientID: 'H1', name: 'Renamed' }), { 'x-request-id': 'req-put' })).status,
    ).toBe(200);
    expect((await send('PATCH', `/patients/${id}`, { age: 41, name: 'Renamed' }, { 'x-request-id': 'req-patch' })).status).toBe(200);
    expect((await send('DELETE', `/patients/${id}`, undefined, { 'x-request-id': 'req-delete' })).status).toBe(200);

    const all = await events(id);
    expect(all.map((e) => [e.op, e.actor, e.request_id])).toEqual([
      ['create', 'front-desk', 'req-create'],
      ['replace', 'front-desk', 'req-put'],
      ['update', 'front-desk', 'req-patch'],
      ['delete', 'front-desk', 'req-delete'],
    ]);
    const sample = samplePatient({ patientID: 'H1' });
    expect(all[0]!.changes).toEqual(Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, { from: null, to: v }])));
    // Only what changed: the name on PUT, the age on PATCH (the name sent again is unchanged).
    expect(all[1]!.changes).toEqual({ name: { from: 'Test Patient', to: 'Renamed' } });
    expect(all[2]!.changes).toEqual({ age: { from: 40, to: 41 } });
    expect(all[3]!.changes).toEqual(
      Object.fromEntries(Object.entries({ ...sample, name: 'Renamed', age: 41 }).map(([k, v]) => [k, { from: v, to: null }])),
    );
  });

  it('a failed write writes no event: a taken patientID, invalid input, an unknown id', async () => {
    const { id } = await create('TAKEN');
    await create('OTHER');
    expect((await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'TAKEN' }), auth)).status).toBe(409);
    expect((await send('PATCH', `/patients/${id}`, { patientID: 'OTHER' })).status).toBe(409);
    expect((await send('PATCH', `/patients/${id}`, { age: 999 })).status).toBe(400);
    expect((await send('PATCH', '/patients/999', { age: 1 })).status).toBe(404);
    expect((await send('DELETE', '/patients/999')).status).toBe(404);
    expect((await events()).map((e) => e.op)).toEqual(['create', 'create']);
  });

  it('creates arriving together (one grouped statement) each get their own event with their own request id', async () => {
    const created = await Promise.all(Array.from({ length: 30 }, (_, i) => create(`G${i}`, { 'x-request-id': `req-g${i}` })));
    const all = await events();
    expect(all).toHaveLength(30);
    for (const [i, { id }] of created.entries()) {
      const own = all.filter((e) => e.patient_id === id);
      expect(own).toHaveLength(1);
      expect(own[0]).toMatchObject({ op: 'create', request_id: `req-g${i}` });
      expect(own[0]!.changes.patientID).toEqual({ from: null, to: `G${i}` });
    }
  });

  it('100 parallel PATCHes of one patient: exactly 100 events in commit order, each answer matching its event', async () => {
    const { id } = await create('HOT');
    const answers = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const res = await send(
          'PATCH',
          `/patients/${id}`,
          { age: (i % 90) + 1, medicalCondition: `c${i}` },
          { 'x-request-id': `req-p${i}` },
        );
        expect(res.status).toBe(200);
        return { requestId: `req-p${i}`, body: (await res.json()) as { age: number; medicalCondition: string } };
      }),
    );
    const updates = (await events(id)).filter((e) => e.op === 'update');
    expect(updates).toHaveLength(100);
    // In commit order, each event starts from where the one before ended.
    let state = { age: 40, medicalCondition: 'Asthma' };
    for (const e of updates) {
      for (const [field, { from, to }] of Object.entries(e.changes)) {
        expect(from).toBe(state[field as keyof typeof state]);
        state = { ...state, [field]: to };
      }
      // The answer of the request that made this change is the row right after it.
      const answer = answers.find((a) => a.requestId === e.request_id)!;
      expect({ age: answer.body.age, medicalCondition: answer.body.medicalCondition }).toEqual(state);
    }
    const [row] = await t.db.query<{ age: number; medical_condition: string }>(
      'select age, medical_condition from patients where id = $1',
      [id],
    );
    expect({ age: row!.age, medicalCondition: row!.medical_condition }).toEqual(state);
  });

  it('parallel PATCHes of different fields, repeats and no-ops (grouped): each event holds exactly the fields its change altered, from what the record held just before', async () => {
    const { id } = await create('MIX');
    const patches: Record<string, unknown>[] = [
      { age: 41 },
      { name: 'Renamed' },
      { age: 41 },
      {},
      { age: 42, name: 'Renamed' },
      { medicalCondition: 'Flu' },
      { name: 'Again', medicalCondition: 'Asthma' },
    ];
    const sent = Array.from({ length: 70 }, (_, i) => ({ requestId: `req-m${i}`, patch: patches[i % patches.length]! }));
    const answers = await Promise.all(
      sent.map(async ({ requestId, patch }) => {
        const res = await send('PATCH', `/patients/${id}`, patch, { 'x-request-id': requestId });
        expect(res.status).toBe(200);
        return res.json();
      }),
    );
    expect(answers).toHaveLength(70);
    const updates = (await events(id)).filter((e) => e.op === 'update');
    expect(updates).toHaveLength(70);
    let state: Record<string, unknown> = { age: 40, name: 'Jane Doe', medicalCondition: 'Asthma' };
    const [created] = await events(id);
    for (const field of Object.keys(state)) state[field] = created!.changes[field]!.to;
    for (const e of updates) {
      const patch = sent.find((s) => s.requestId === e.request_id)!.patch;
      const expected = Object.fromEntries(
        Object.entries(patch)
          .filter(([field, value]) => state[field] !== value)
          .map(([field, value]) => [field, { from: state[field], to: value }]),
      );
      expect(e.changes).toEqual(expected);
      state = { ...state, ...patch };
    }
  });

  it('the importer writes one import event per inserted or changed record, in its transaction', async () => {
    const { id } = await create('IMP1');
    const report = await importPatients(t.app.db.orm.em.fork(), {
      patients: [
        { ...samplePatient({ patientID: 'IMP1', age: 50 }), id },
        { ...samplePatient({ patientID: 'IMP2' }), id: 20 },
        { ...samplePatient({ patientID: 'IMP1-same' }), id: 21 },
      ],
    });
    expect(report).toMatchObject({ inserted: 2, updated: 1 });
    const imported = (await events()).filter((e) => e.op === 'import');
    expect(imported.map((e) => [e.patient_id, e.actor])).toEqual([
      [id, 'import'],
      [20, 'import'],
      [21, 'import'],
    ]);
    expect(imported[0]!.changes).toEqual({ age: { from: 40, to: 50 } });
    // The changed record is a new version (an If-Match on the old one is refused).
    expect(await t.db.query('select version from patients where id = $1', [id])).toEqual([{ version: 2 }]);
    // Re-running changes nothing, so it records nothing.
    await importPatients(t.app.db.orm.em.fork(), { patients: [{ ...samplePatient({ patientID: 'IMP2' }), id: 20 }] });
    expect((await events()).filter((e) => e.op === 'import')).toHaveLength(3);
  });

  it('events are append-only: UPDATE and DELETE are refused by the database', async () => {
    await create('AO');
    await expect(t.db.query(`update patient_events set actor = 'mallory'`)).rejects.toMatchObject({ code: '42501' });
    await expect(t.db.query('delete from patient_events')).rejects.toMatchObject({ code: '42501' });
    expect(await events()).toHaveLength(1);
  });

  it('TRUNCATE of the events is refused too, alone or with the patients, unless the transaction asks for it', async () => {
    await create('TR');
    await expect(t.db.query('truncate patient_events')).rejects.toMatchObject({ code: '42501' });
    await expect(t.db.query('truncate patients, patient_events restart identity')).rejects.toMatchObject({ code: '42501' });
    // Only the transaction's own id opens it: not 'on', not a value set for the whole session, not
    // an earlier transaction's id.
    const attempt = (value: string, local: boolean) =>
      t.db.query(`do $$ begin perform set_config('health.allow_truncate', ${value}, ${local}); truncate patient_events; end $$`);
    await expect(attempt(`'on'`, true)).rejects.toMatchObject({ code: '42501' });
    await expect(attempt(`'on'`, false)).rejects.toMatchObject({ code: '42501' });
    await expect(attempt(`(pg_current_xact_id()::text::bigint - 1)::text`, true)).rejects.toMatchObject({ code: '42501' });
    expect(await events()).toHaveLength(1);
    expect(await t.db.query('select id from patients')).toHaveLength(1);
    // The deliberate reset (tests/support/reset.ts): both tables emptied.
    await t.db.query(resetSql('patients, patient_events'));
    expect(await events()).toHaveLength(0);
  });

  it('the actor is the token name (a bare token is token-<n>); the token itself is stored nowhere', async () => {
    const { id } = await create('ACT', { authorization: `Bearer ${OTHER}` });
    expect((await events(id))[0]).toMatchObject({ actor: 'token-2' });
    const dump = JSON.stringify(await t.db.query('select * from patient_events'));
    expect(dump).not.toContain(TOKEN);
    expect(dump).not.toContain(OTHER);
    for (const line of t.logs) expect(line).not.toContain('Test Patient');
  });
});

describe('reading the history', () => {
  it('REST: newest first, json-server paging with X-Total-Count and Link; works after a delete; 404 {} for an id that never existed', async () => {
    const { id } = await create('R1');
    for (let age = 41; age <= 45; age++) await send('PATCH', `/patients/${id}`, { age });
    const all = await send('GET', `/patients/${id}/history`);
    expect(all.status).toBe(200);
    const body = (await all.json()) as Event[];
    expect(body.map((e) => e.op)).toEqual(['update', 'update', 'update', 'update', 'update', 'create']);
    expect(Object.keys(body[0]!).sort()).toEqual(['actor', 'at', 'changes', 'id', 'op', 'requestId']);
    expect(body[0]).toMatchObject({ actor: 'front-desk', changes: { age: { from: 44, to: 45 } } });
    expect(new Date(body[0]!.at).toISOString()).toBe(body[0]!.at);
    expect(body.map((e) => e.id)).toEqual([...body.map((e) => e.id)].sort((a, b) => b - a));

    const page = await send('GET', `/patients/${id}/history?_page=2&_limit=2`, undefined, { host: 'clinic.example' });
    expect(page.headers.get('x-total-count')).toBe('6');
    expect(page.headers.get('link')).toContain('_page=3');
    expect(((await page.json()) as Event[]).map((e) => e.changes.age?.to)).toEqual([43, 42]);

    await send('DELETE', `/patients/${id}`);
    const afterDelete = (await (await send('GET', `/patients/${id}/history`)).json()) as Event[];
    expect(afterDelete[0]!.op).toBe('delete');
    expect(afterDelete).toHaveLength(7);

    const never = await send('GET', '/patients/424242/history');
    expect(never.status).toBe(404);
    expect(await never.text()).toBe('{}');
    expect((await fetch(`${t.baseUrl}/patients/${id}/history`)).status).toBe(401);
  });

  it('tRPC patient.history: typed items and a cursor through every event, exactly once each', async () => {
    const { id } = await create('T1');
    for (let age = 1; age <= 6; age++) await send('PATCH', `/patients/${id}`, { age });
    const api = createClient({ baseUrl: t.baseUrl, headers: auth });
    const seen: number[] = [];
    let cursor: number | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await api.patient.history.query({ id, limit: 3, ...(cursor !== undefined ? { cursor } : {}) });
      seen.push(...page.items.map((e) => e.id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    const ids = (await events(id)).map((e) => Number(e.id)).reverse();
    expect(seen).toEqual(ids);
    await expect(api.patient.history.query({ id: 999 })).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
  });
});
