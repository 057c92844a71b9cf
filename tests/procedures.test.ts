/**
 * The procedures in-process, through tRPC's `createCaller`: no HTTP, the real database. What a
 * procedure answers and throws, independent of any transport; the transports are tested by the
 * HTTP suites.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Context, createContextFactory } from '../src/api/context.ts';
import { appRouter } from '../src/api/router.ts';
import { createCaller } from '../src/api/trpc.ts';
import { createTokenCheck, parseApiTokens } from '../src/auth.ts';
import type { PatientInput } from '../src/client.ts';
import { JsonText } from '../src/core/json-text.ts';
import { patients } from '../src/patients/patient.fields.ts';
import { patientOutput } from '../src/patients/patient.schemas.ts';
import { useOpenedTestDatabase } from './support/database.ts';

const opened = useOpenedTestDatabase();

const caller = (options: { results?: Context['results']; tokens?: string[]; authorization?: string } = {}) => {
  const createContext = createContextFactory({ db: opened.db, tokens: createTokenCheck(parseApiTokens(options.tokens ?? [])) });
  return createCaller(appRouter)(
    createContext({ requestId: 'test', authorization: options.authorization, results: options.results ?? 'values' }),
  );
};

const patient = (patientID: string, overrides: Partial<PatientInput> = {}): PatientInput => ({
  patientID,
  name: `Name ${patientID}`,
  age: 40,
  gender: 'Female',
  medicalCondition: 'Asthma',
  lastVisit: '2024-05-01',
  ...overrides,
});

/** The TRPCError a call fails with. */
async function failure(call: Promise<unknown>): Promise<TRPCError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

describe('patient procedures (createCaller)', () => {
  it('create answers the stored row with its id; byId reads it back', async () => {
    const api = caller();
    const created = await api.patient.create(patient('C1'));
    expect(created).toEqual({ id: 1, ...patient('C1'), version: 1 });
    expect(await api.patient.byId({ id: created.id })).toEqual(created);
  });

  it.each([
    ['a number', 999],
    ['a non-canonical string', '01'],
    ['zero', 0],
  ])('byId of %s that names nobody is NOT_FOUND', async (_label, id) => {
    const err = await failure(caller().patient.byId({ id }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe('Patient not found');
  });

  it('a second create of one patientID is CONFLICT, and nothing is written', async () => {
    const api = caller();
    await api.patient.create(patient('DUP'));
    const err = await failure(api.patient.create(patient('DUP', { name: 'Other' })));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toBe('A patient with this patientID already exists');
    expect(await api.patient.list({})).toHaveLength(1);
  });

  it('invalid input is BAD_REQUEST with zod issues, before any SQL', async () => {
    // @ts-expect-error an age out of range and an unknown key are what is being tested
    const err = await failure(caller().patient.create({ ...patient('BAD'), age: 151, extra: 1 }));
    expect(err.code).toBe('BAD_REQUEST');
    expect(await caller().patient.list({})).toEqual([]);
  });

  it('replace and update change the row and answer it as stored; delete removes it', async () => {
    const api = caller();
    const { id } = await api.patient.create(patient('U1'));
    expect(await api.patient.replace({ id, ...patient('U1', { name: 'Replaced', age: 41 }) })).toEqual({
      id,
      ...patient('U1', { name: 'Replaced', age: 41 }),
      version: 2,
    });
    expect(await api.patient.update({ id, age: 42 })).toMatchObject({ id, name: 'Replaced', age: 42, version: 3 });
    expect(await api.patient.delete({ id })).toEqual({});
    expect((await failure(api.patient.delete({ id }))).code).toBe('NOT_FOUND');
    expect((await failure(api.patient.update({ id, age: 1 }))).code).toBe('NOT_FOUND');
  });

  it('list for in-process callers answers validated values; for transports, the same rows as JSON text', async () => {
    const api = caller();
    for (const id of ['L1', 'L2', 'L3']) await api.patient.create(patient(id, { age: id === 'L2' ? 20 : 60 }));
    const values = await api.patient.list({ age_gte: '30', _sort: 'patientID', _order: 'desc' });
    expect(values.map((p) => p.patientID)).toEqual(['L3', 'L1']);

    const text = (await caller({ results: 'json-text' }).patient.list({ age_gte: '30', _sort: 'patientID', _order: 'desc' })) as unknown;
    expect(text).toBeInstanceOf(JsonText);
    const parsed = JSON.parse((text as JsonText).text) as unknown;
    // The text PostgreSQL built has exactly the output schema's shape and the same rows.
    expect(z.array(patientOutput.strict()).parse(parsed)).toEqual(values);
    expect((text as JsonText<{ total: number; returned: number }>).meta).toMatchObject({ total: 2, returned: 2 });
  });

  it('byId for transports is the record as JSON text, with and without its version (REST sends it as the ETag)', async () => {
    const api = caller();
    // Text that JSON escapes (quote, backslash, control characters, non-ASCII), and a changed version.
    const name = 'Zoë "Q" \\ \t\n\r\b\f\u0001\u001f\u007f 患者';
    const { id } = await api.patient.create(patient('T1', { name, medicalCondition: '😀 \u2028' }));
    await api.patient.update({ id, age: 77 });
    const values = await api.patient.byId({ id });
    expect(values).toMatchObject({ id, name, medicalCondition: '😀 \u2028', age: 77, version: 2 });

    const text = (await caller({ results: 'json-text' }).patient.byId({ id })) as unknown as JsonText<{ version: number }>;
    expect(text).toBeInstanceOf(JsonText);
    // The text PostgreSQL built has exactly the output schema's shape, the same record, byte for
    // byte what JSON.stringify makes of the validated values, in the schema's key order.
    expect(patients.versioned.strict().parse(JSON.parse(text.text))).toEqual(values);
    expect(text.text).toBe(JSON.stringify(values));
    expect(text.meta).toEqual({ version: 2 });
    const { version: _, ...withoutVersion } = values;
    expect(text.claimWithout(['version'])).toBe(JSON.stringify(withoutVersion));
    // Keys it was not built without are removed from the parsed text.
    expect(JSON.parse(text.claimWithout(['version', 'age']))).toEqual(patientOutput.omit({ age: true }).parse(values));
    expect((await failure(caller({ results: 'json-text' }).patient.byId({ id: id + 1000 }))).code).toBe('NOT_FOUND');
  });

  it('search gives the typed twin of list, with the total', async () => {
    const api = caller();
    for (let i = 1; i <= 5; i++) await api.patient.create(patient(`S${i}`, { age: 20 + i }));
    const page = await api.patient.search({ filter: { age: { gte: 22 } }, sort: [{ field: 'age', order: 'desc' }], offset: 1, limit: 2 });
    expect(page).toEqual({ total: 4, items: [expect.objectContaining({ age: 24 }), expect.objectContaining({ age: 23 })] });

    // For transports: the same page and total as JSON text, in exactly the output schema's shape.
    const asked = { filter: { age: { gte: 22 } }, sort: [{ field: 'age' as const, order: 'desc' as const }], offset: 1, limit: 2 };
    const text = (await caller({ results: 'json-text' }).patient.search(asked)) as unknown;
    expect(text).toBeInstanceOf(JsonText);
    const parsed = JSON.parse((text as JsonText).text) as unknown;
    expect(z.strictObject({ items: z.array(patientOutput.strict()), total: z.number().int() }).parse(parsed)).toEqual(page);
    // An empty page past the end still tells the total.
    const past = (await caller({ results: 'json-text' }).patient.search({ ...asked, offset: 50 })) as unknown as JsonText;
    expect(JSON.parse(past.text)).toEqual({ items: [], total: 4 });
    const err = await failure(api.patient.search({ filter: { name: { like: '(a)\\1' } }, offset: 0 }));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toBe('Back-references are not supported in a _like filter');
  });

  it('with API_TOKENS, patient procedures need the token; health does not', async () => {
    const locked = caller({ tokens: ['secret-token'] });
    expect((await failure(locked.patient.list({}))).code).toBe('UNAUTHORIZED');
    expect(await caller({ tokens: ['secret-token'], authorization: 'Bearer secret-token' }).patient.list({})).toEqual([]);
    expect(await locked.health()).toMatchObject({ status: 'healthy', database: 'connected' });
  });
});
