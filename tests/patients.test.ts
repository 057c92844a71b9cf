/**
 * Single-record routes and the typed tRPC twins of every REST capability, through the real
 * @trpc/client, checked against what the REST shim answers for the same data.
 */
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type PatientInput } from '../src/client.ts';
import { importPatients } from '../src/patients/patient.import.ts';
import { type PatientSearchInput, startTestApp, type TestApp } from './support/app.ts';
import { RESET_TABLES } from './support/database.ts';

let t: TestApp;
let api: ReturnType<typeof createClient>;

const people = [
  { id: 1, patientID: 'P001', name: 'John Doe', age: 45, gender: 'Male', medicalCondition: 'Hypertension', lastVisit: '2024-01-15' },
  { id: 2, patientID: 'P002', name: 'Jane Smith', age: 32, gender: 'Female', medicalCondition: 'Type 2 Diabetes', lastVisit: '2024-02-20' },
  {
    id: 3,
    patientID: 'p003',
    name: 'Robert Johnson',
    age: 58,
    gender: 'Male',
    medicalCondition: 'Coronary Artery Disease',
    lastVisit: '2023-11-05',
  },
  { id: 4, patientID: 'P004', name: 'Émile Davis', age: 45, gender: 'Other', medicalCondition: 'Asthma', lastVisit: '2024-01-15' },
  { id: 5, patientID: 'P005', name: 'ana lee', age: 9, gender: 'Female', medicalCondition: 'Hyperthyroidism', lastVisit: '2022-08-30' },
] as const;

const valid: PatientInput = {
  patientID: 'N001',
  name: 'New Person',
  age: 30,
  gender: 'Female',
  medicalCondition: 'Checkup',
  lastVisit: '2024-06-01',
};

beforeAll(async () => {
  t = await startTestApp();
  api = createClient({ baseUrl: t.baseUrl });
});
afterAll(() => t?.stop());
beforeEach(async () => {
  await t.db.query(RESET_TABLES);
  await importPatients(t.app.db.orm.em.fork(), { patients: people });
});

const rest = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${t.baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
};
const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
};
const stored = async (id: number) =>
  (await t.db.query<{ name: string; age: number; created_at: Date; updated_at: Date }>('select * from patients where id = $1', [id]))[0];

describe('single records over REST', () => {
  it('PUT replaces every field, keeps id and createdAt, moves updatedAt', async () => {
    const before = await stored(2);
    const res = await rest('PUT', '/patients/2', { ...valid, patientID: 'P002' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...valid, patientID: 'P002', id: 2 });
    const after = await stored(2);
    expect(after?.created_at).toEqual(before?.created_at);
    expect(after!.updated_at.getTime()).toBeGreaterThan(before!.updated_at.getTime());
  });

  it('POST and patient.create answer the row as stored, not the body echoed back', async () => {
    // A trigger stands in for anything the database may do to a value on its way in.
    await t.db.query(
      `create function test_upper() returns trigger language plpgsql as $$ begin new.name := upper(new.name); return new; end $$`,
    );
    await t.db.query('create trigger test_upper before insert on patients for each row execute function test_upper()');
    try {
      const res = await rest('POST', '/patients', { ...valid, name: 'Stored Upper' });
      expect(res.status).toBe(201);
      const body = res.body as { id: number };
      expect(body).toEqual({ ...valid, name: 'STORED UPPER', id: body.id });
      expect((await rest('GET', `/patients/${body.id}`)).body).toEqual(body);
      const typed = await api.patient.create.mutate({ ...valid, patientID: 'N002', name: 'Typed' });
      expect(typed).toEqual({ ...valid, patientID: 'N002', name: 'TYPED', id: typed.id, version: 1 });
      expect(await api.patient.byId.query({ id: typed.id })).toEqual(typed);
    } finally {
      await t.db.query('drop trigger test_upper on patients; drop function test_upper()');
    }
  });

  it('PUT validates the whole body, and rejects timestamps and unknown fields', async () => {
    for (const body of [
      { name: 'Only' },
      { ...valid, age: 151 },
      { ...valid, createdAt: '2020-01-01T00:00:00Z' },
      { ...valid, extra: 1 },
    ]) {
      const res = await rest('PUT', '/patients/2', body);
      expect(res.status).toBe(400);
    }
    expect((await rest('GET', '/patients/2')).body).toEqual(people[1]);
  });

  it('PUT and PATCH answer a patientID held by another patient with 409 and change nothing', async () => {
    expect((await rest('PUT', '/patients/2', { ...valid, patientID: 'P001' })).status).toBe(409);
    expect((await rest('PATCH', '/patients/2', { patientID: 'P001' })).status).toBe(409);
    expect((await rest('GET', '/patients/2')).body).toEqual(people[1]);
  });

  it('PATCH changes only the given fields and validates them', async () => {
    const res = await rest('PATCH', '/patients/3', { age: 59, medicalCondition: 'Recovered' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...people[2], age: 59, medicalCondition: 'Recovered' });
    for (const body of [{ age: -1 }, { lastVisit: '2024-02-30' }, { gender: null }, { name: '' }, { updatedAt: 'x' }]) {
      expect((await rest('PATCH', '/patients/3', body)).status).toBe(400);
    }
    expect((await stored(3))?.age).toBe(59);
  });

  it('DELETE answers 200 {} and the record is gone; a second DELETE is 404 {}', async () => {
    expect(await rest('DELETE', '/patients/5')).toMatchObject({ status: 200, body: {} });
    expect(await stored(5)).toBeUndefined();
    expect(await rest('DELETE', '/patients/5')).toMatchObject({ status: 404, body: {} });
  });

  it('an id that is not the exact text of an existing id is 404 {} on every method', async () => {
    for (const id of ['999', '01', '1.0', 'abc', '0', '-1', '99999999999']) {
      for (const [method, body] of [['GET'], ['DELETE'], ['PATCH', { age: 1 }], ['PUT', valid]] as const) {
        const res = await rest(method, `/patients/${id}`, body);
        expect(res, `${method} ${id}`).toMatchObject({ status: 404, body: {} });
      }
    }
    expect(await t.db.query('select id from patients')).toHaveLength(people.length);
  });
});

describe('tRPC twins of every REST capability', () => {
  it('patient.byId equals GET /patients/:id, and NOT_FOUND for an unknown id', async () => {
    // tRPC adds the record's version (REST sends it as the ETag header).
    const got = await rest('GET', '/patients/3');
    expect(await api.patient.byId.query({ id: 3 })).toEqual({
      ...(got.body as object),
      version: Number(JSON.parse(got.headers.get('etag')!)),
    });
    const err = await failure(api.patient.byId.query({ id: 999 }));
    expect(err.data?.code).toBe('NOT_FOUND');
  });

  it('patient.replace equals PUT', async () => {
    const replaced = await api.patient.replace.mutate({ id: 2, ...valid });
    const { version, ...fields } = replaced;
    expect(fields).toEqual({ ...valid, id: 2 });
    const got = await rest('GET', '/patients/2');
    expect(got.body).toEqual(fields);
    expect(got.headers.get('etag')).toBe(`"${version}"`);
    const err = await failure(api.patient.replace.mutate({ id: 2, ...valid, age: 200 }));
    expect(err.data?.code).toBe('BAD_REQUEST');
  });

  it('patient.update equals PATCH', async () => {
    const updated = await api.patient.update.mutate({ id: 1, name: 'John Q. Doe' });
    expect(updated).toEqual({ ...people[0], name: 'John Q. Doe', version: 2 });
    const err = await failure(api.patient.update.mutate({ id: 1, patientID: 'P002' }));
    expect(err.data?.code).toBe('CONFLICT');
  });

  it('patient.delete equals DELETE', async () => {
    expect(await api.patient.delete.mutate({ id: 4 })).toEqual({});
    expect((await rest('GET', '/patients/4')).status).toBe(404);
    expect((await failure(api.patient.delete.mutate({ id: 4 }))).data?.code).toBe('NOT_FOUND');
  });

  it('patient.search: typed filters, q, sort and pages give what the json-server syntax gives, plus the total', async () => {
    const cases: [Parameters<typeof api.patient.search.query>[0], string][] = [
      [{}, ''],
      [{ filter: { gender: { eq: 'Male' } } }, 'gender=Male'],
      [{ filter: { id: { eq: [1, 3] } } }, 'id=1&id=3'],
      [{ filter: { gender: { ne: ['Male', 'Female'] } } }, 'gender_ne=Male&gender_ne=Female'],
      [{ filter: { age: { gte: 30, lte: 50 } } }, 'age_gte=30&age_lte=50'],
      [{ filter: { lastVisit: { gte: '2024-01-01' } } }, 'lastVisit_gte=2024-01-01'],
      [{ filter: { name: { like: '^j' } } }, 'name_like=^j'],
      [{ filter: { name: { like: 'émile' } } }, 'name_like=%C3%A9mile'],
      [{ q: 'hyper' }, 'q=hyper'],
      [{ q: '45' }, 'q=45'],
      [{ sort: [{ field: 'age', order: 'desc' }] }, '_sort=age&_order=desc'],
      [{ sort: [{ field: 'name' }] }, '_sort=name'],
      [{ sort: [{ field: 'lastVisit' }, { field: 'age', order: 'desc' }] }, '_sort=lastVisit,age&_order=asc,desc'],
      [{ sort: [{ field: 'name' }], offset: 1, limit: 2 }, '_sort=name&_start=1&_end=3'],
      [{ filter: { gender: { eq: 'Female' } }, limit: 1, offset: 1 }, 'gender=Female&_start=1&_limit=1'],
    ];
    for (const [input, query] of cases) {
      const typed = await api.patient.search.query(input);
      const legacy = await fetch(`${t.baseUrl}/patients?${query}`);
      expect(typed.items, query).toEqual(await legacy.json());
      const all = await fetch(`${t.baseUrl}/patients?${query.replace(/&?_(start|end|limit)=\d+/g, '')}`);
      expect(typed.total, query).toBe(((await all.json()) as unknown[]).length);
    }
  });

  it('patient.search rejects what it cannot answer', async () => {
    const inputs: PatientSearchInput[] = [
      { limit: 0 },
      { limit: 5000 },
      { offset: -1 },
      // @ts-expect-error an age is a number: the server must refuse a string too
      { filter: { age: { eq: 'x' } } },
      // @ts-expect-error no such field: the server must refuse it too
      { filter: { nope: {} } },
      { filter: { name: { like: '(' } } },
    ];
    for (const input of inputs) {
      const err = await failure(api.patient.search.query(input));
      expect(err.data?.code, JSON.stringify(input)).toBe('BAD_REQUEST');
    }
  });

  it('patient.list over tRPC returns every patient in id order', async () => {
    expect((await api.patient.list.query()).map((p) => p.id)).toEqual([1, 2, 3, 4, 5]);
  });
});
