import { TRPCClientError } from '@trpc/client';
import superjson, { type SuperJSONResult } from 'superjson';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AppRouter, createClient } from '../src/client.ts';
import { samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { RESET_TABLES } from './support/database.ts';

let t: TestApp;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  t = await startTestApp();
  client = createClient({ baseUrl: t.baseUrl });
});
afterAll(() => t?.stop());
beforeEach(() => t.db.query(RESET_TABLES));

const errorOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as TRPCClientError<AppRouter>;
  }
  throw new Error('expected the call to fail');
};

describe('tRPC API through @trpc/client (superjson)', () => {
  it('patient.create returns the created patient, and patient.list returns what REST returns', async () => {
    const created = await client.patient.create.mutate(samplePatient());
    // Single-record answers carry the record's version (REST sends it as the ETag).
    expect(created).toEqual({ ...samplePatient(), id: 1, version: 1 });
    await client.patient.create.mutate(samplePatient({ patientID: 'P901' }));
    const list = await client.patient.list.query();
    expect(list.map((p) => p.id)).toEqual([1, 2]);
    const rest = await (await fetch(`${t.baseUrl}/patients`)).json();
    expect(list).toEqual(rest);
  });

  it('typed results: lastVisit stays a YYYY-MM-DD string on both surfaces', async () => {
    await client.patient.create.mutate(samplePatient());
    const [p] = await client.patient.list.query();
    expect(typeof p?.lastVisit).toBe('string');
    expect(p?.lastVisit).toBe('2024-05-01');
  });

  it('health answers healthy after a database round trip', async () => {
    const h = await client.health.query();
    expect(h.status).toBe('healthy');
    expect(h.database).toBe('connected');
  });

  it('rejects invalid input with BAD_REQUEST and field issues, and stores nothing', async () => {
    // Make a REST call first: the coercion trap would turn null into 0 after it.
    await fetch(`${t.baseUrl}/patients`);
    // @ts-expect-error a null age and an unknown gender: the server's validation is under test, not the types
    const err = await errorOf(client.patient.create.mutate(samplePatient({ age: null, gender: 'x' })));
    expect(err).toBeInstanceOf(TRPCClientError);
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.data?.httpStatus).toBe(400);
    const paths = ((err.data as { issues?: { path: string[] }[] }).issues ?? []).map((i) => i.path.join('.'));
    expect(paths.sort()).toEqual(['age', 'gender']);
    expect(await client.patient.list.query()).toEqual([]);
  });

  it('answers a duplicate patientID with CONFLICT', async () => {
    await client.patient.create.mutate(samplePatient());
    const err = await errorOf(client.patient.create.mutate(samplePatient()));
    expect(err.data?.code).toBe('CONFLICT');
    expect(err.data?.httpStatus).toBe(409);
  });

  it('never puts a stack trace in an error', async () => {
    // @ts-expect-error every field missing: what the server answers to it is under test
    const err = await errorOf(client.patient.create.mutate({}));
    expect(JSON.stringify(err.shape)).not.toMatch(/stack|\.ts:\d+|node_modules/);
  });

  it('batches calls, and refuses a batch over the limit', async () => {
    const results = await Promise.all([client.patient.list.query(), client.health.query(), client.patient.list.query()]);
    expect(results).toHaveLength(3);
    const procs = Array.from({ length: 11 }, () => 'patient.list').join(',');
    const input = encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i, { json: null }]))));
    const res = await fetch(`${t.baseUrl}/trpc/${procs}?batch=1&input=${input}`);
    expect(res.status).toBe(400);
  });

  it('works without batching too', async () => {
    const plain = createClient({ baseUrl: t.baseUrl, batch: false });
    expect(await plain.patient.list.query()).toEqual([]);
  });

  it('an unbatched patient.list (sent as PostgreSQL made it) equals the batched one and REST, filters and all', async () => {
    for (const [i, name] of ['Zoë Ångström', 'ana "quoted"', 'Bob \\ back'].entries()) {
      await client.patient.create.mutate(samplePatient({ patientID: `T${i}`, name, gender: i === 1 ? 'Male' : 'Female' }));
    }
    const plain = createClient({ baseUrl: t.baseUrl, batch: false });
    const input = { gender: 'Female', _sort: 'name' };
    const unbatched = await plain.patient.list.query(input);
    expect(unbatched.map((p) => p.name)).toEqual(['Bob \\ back', 'Zoë Ångström']);
    expect(unbatched).toEqual(await client.patient.list.query(input));
    expect(unbatched).toEqual(await (await fetch(`${t.baseUrl}/patients?gender=Female&_sort=name`)).json());
  });

  it('patient.search (sent as PostgreSQL made it) equals the batched answer and the REST page', async () => {
    for (const [i, name] of ['Zoë Ångström', 'ana "quoted"', 'Bob \\ back', 'Émile'].entries()) {
      await client.patient.create.mutate(samplePatient({ patientID: `S${i}`, name, gender: i === 1 ? 'Male' : 'Female' }));
    }
    const plain = createClient({ baseUrl: t.baseUrl, batch: false });
    const input = {
      filter: { gender: { eq: 'Female' as const } },
      sort: [{ field: 'name' as const, order: 'asc' as const }],
      offset: 1,
      limit: 2,
    };
    const unbatched = await plain.patient.search.query(input);
    expect(unbatched).toEqual({
      total: 3,
      items: [expect.objectContaining({ name: 'Zoë Ångström' }), expect.objectContaining({ name: 'Émile' })],
    });
    const [batched] = await Promise.all([client.patient.search.query(input), client.health.query()]);
    expect(batched).toEqual(unbatched);
    const rest = await fetch(`${t.baseUrl}/patients?gender=Female&_sort=name&_start=1&_limit=2`);
    expect(unbatched.items).toEqual(await rest.json());
    expect(rest.headers.get('x-total-count')).toBe('3');
  });

  // The fast path (PostgreSQL's JSON text as the whole body) is only right for an unbatched call, and
  // tRPC decodes the URL before it decides: `%2C` in the path splits it into calls, a percent-encoded
  // `batch` key still means batch. Whether it is a batch must come from what tRPC parsed.
  it.each([
    ['patient.list%2Cpatient.list?%62atch=1', 2],
    ['patient.list%2cpatient.list?%62%61%74%63%68=1', 2],
    ['patient.list%2Cpatient.list%2Cpatient.list?b%61tch=1', 3],
  ])('a batch spelled with percent-encoding (%s) gets a batch answer, each call the whole list', async (call, calls) => {
    await client.patient.create.mutate(samplePatient());
    await client.patient.create.mutate(samplePatient({ patientID: 'P901', name: 'Other "One"' }));
    const rest = await (await fetch(`${t.baseUrl}/patients`)).json();
    const input = encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, { json: {} }]))));
    const res = await fetch(`${t.baseUrl}/trpc/${call}&input=${input}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: SuperJSONResult } }[];
    expect(Array.isArray(body)).toBe(true);
    expect(body).toHaveLength(calls);
    for (const answer of body) expect(superjson.deserialize(answer.result.data)).toEqual(rest);
  });

  it('a single call, however its path is spelled, still gets the list as PostgreSQL wrote it', async () => {
    await client.patient.create.mutate(samplePatient());
    await client.patient.create.mutate(samplePatient({ patientID: 'P901' }));
    // json_agg separates rows with ", \n" where JSON.stringify would not: that text proves the fast path.
    const restText = await (await fetch(`${t.baseUrl}/patients`)).text();
    expect(restText).toContain('}, \n {');
    // tRPC batches only on `batch=1`: `batch=0` is one call (the raw-URL check used to miss that).
    for (const path of ['patient.list', 'patient%2Elist', 'patient.list?batch=0']) {
      const res = await fetch(`${t.baseUrl}/trpc/${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`{"result":{"data":{"json":${restText}}}}`);
    }
  });
});
