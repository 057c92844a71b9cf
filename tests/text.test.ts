/**
 * Text must be well-formed: a lone UTF-16 surrogate (JSON `"\ud800"`) has no UTF-8 form, so
 * PostgreSQL would store U+FFFD instead of what the client sent. Such strings are 400 on every text
 * input of both surfaces, and a create that is written always answers the row as stored.
 */
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.ts';
import { type PatientInput, type PatientSearchInput, postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { RESET_TABLES } from './support/database.ts';

let t: TestApp;
let api: ReturnType<typeof createClient>;

beforeAll(async () => {
  t = await startTestApp();
  api = createClient({ baseUrl: t.baseUrl });
});
afterAll(() => t?.stop());
beforeEach(() => t.db.query(RESET_TABLES));

/** A lone high surrogate, and a lone low surrogate followed by text. */
const BROKEN = ['\ud800', '\udc00x'];
const TEXT_FIELDS = ['patientID', 'name', 'medicalCondition'] as const;
type TextField = (typeof TEXT_FIELDS)[number];

// `{ [field]: value }` typed: a computed key of a union type widens to an index signature, which
// TypeScript does not check against the procedure's input.
const textField = (field: TextField, value: string): Partial<Pick<PatientInput, TextField>> => {
  const fields: Partial<Pick<PatientInput, TextField>> = {};
  fields[field] = value;
  return fields;
};
type TextFilter = NonNullable<NonNullable<PatientSearchInput['filter']>[TextField]>;
const filterOn = (field: TextField, condition: TextFilter): PatientSearchInput => {
  const filter: NonNullable<PatientSearchInput['filter']> = {};
  filter[field] = condition;
  return { filter };
};

const storedRows = () =>
  t.db.query<{ id: number; patient_id: string; name: string; medical_condition: string }>(
    'select id, patient_id, name, medical_condition from patients order by id',
  );

const rest = async (method: string, path: string, body: unknown) => {
  const res = await fetch(`${t.baseUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as { issues?: { path: unknown[]; message: string }[] } };
};

const trpcFailure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError) return e as unknown as { message: string; data?: { code?: string; issues?: { path: unknown[] }[] } };
    throw e;
  }
  throw new Error('expected the call to fail');
};

/** An error body must not carry the value back, neither as an escape nor as U+FFFD. */
const expectNoEcho = (text: string) => {
  expect(text.toLowerCase()).not.toMatch(/\\ud800|\\udc00/);
  expect(text).not.toMatch(/[\ud800-\udfff\ufffd]/u);
};

describe('a create with a lone surrogate among parallel creates', () => {
  it('is 400 and not stored; each of the other 15 is 201 with exactly the row GET returns', async () => {
    const bodies = Array.from({ length: 16 }, (_, i) =>
      samplePatient({ patientID: i === 9 ? 'T\ud800' : `T${i}`, name: `Parallel ${i}`, age: i }),
    );
    const responses = await Promise.all(bodies.map((body) => postJson(t.baseUrl, '/patients', body)));

    const broken = responses[9]!;
    expect(broken.status).toBe(400);
    const brokenText = await broken.text();
    expect(JSON.parse(brokenText).issues.map((i: { path: unknown[] }) => i.path)).toEqual([['patientID']]);
    expectNoEcho(brokenText);

    const created: { id: number }[] = [];
    for (const [i, res] of responses.entries()) {
      if (i === 9) continue;
      expect(res.status, `create #${i}`).toBe(201);
      const body = (await res.json()) as { id: number; patientID: string; age: number };
      expect(body).toMatchObject({ patientID: `T${i}`, age: i });
      expect(res.headers.get('location')).toMatch(new RegExp(`/patients/${body.id}$`));
      const fetched = await fetch(`${t.baseUrl}/patients/${body.id}`);
      expect(await fetched.json()).toEqual(body);
      created.push(body);
    }
    expect(new Set(created.map((c) => c.id)).size).toBe(15);
    const rows = await storedRows();
    expect(rows).toHaveLength(15);
    expect(rows.some((r) => /[\ufffd]/u.test(r.patient_id))).toBe(false);
  });

  it('alone, it is 400 too and stores nothing', async () => {
    const res = await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'T\ud800' }));
    expect(res.status).toBe(400);
    expect(await storedRows()).toEqual([]);
  });
});

describe('every text field, both surfaces', () => {
  it('REST POST, PUT and PATCH answer 400 with issues for the field, without echoing it, and change nothing', async () => {
    const original = samplePatient({ patientID: 'KEEP' });
    const { id } = (await (await postJson(t.baseUrl, '/patients', original)).json()) as { id: number };
    // The REST shim mutates the shared input schemas on its first call (stack-facts): the checks
    // below run after several REST calls, and the tRPC ones after them, against the same schemas.
    for (const field of TEXT_FIELDS) {
      for (const value of BROKEN) {
        const label = `${field}=${JSON.stringify(value)}`;
        for (const [method, path, body] of [
          ['POST', '/patients', samplePatient({ patientID: 'NEW', [field]: value })],
          ['PUT', `/patients/${id}`, samplePatient({ patientID: 'KEEP', [field]: value })],
          ['PATCH', `/patients/${id}`, { [field]: value }],
        ] as const) {
          const res = await rest(method, path, body);
          expect(res.status, `${method} ${label}`).toBe(400);
          expect(
            res.body.issues?.map((i) => i.path),
            `${method} ${label}`,
          ).toEqual([[field]]);
          expectNoEcho(res.text);
        }
      }
    }
    const rows = await storedRows();
    expect(rows).toEqual([{ id, patient_id: 'KEEP', name: original.name, medical_condition: original.medicalCondition }]);
  });

  it('tRPC create, replace and update answer BAD_REQUEST with issues for the field, and change nothing', async () => {
    const original = await api.patient.create.mutate(samplePatient({ patientID: 'KEEP' }));
    for (const field of TEXT_FIELDS) {
      for (const value of BROKEN) {
        const label = `${field}=${JSON.stringify(value)}`;
        const calls = [
          () => api.patient.create.mutate(samplePatient({ patientID: 'NEW', ...textField(field, value) })),
          () => api.patient.replace.mutate({ ...samplePatient({ patientID: 'KEEP', ...textField(field, value) }), id: original.id }),
          () => api.patient.update.mutate({ id: original.id, ...textField(field, value) }),
        ];
        for (const call of calls) {
          const err = await trpcFailure(call());
          expect(err.data?.code, label).toBe('BAD_REQUEST');
          expect(
            err.data?.issues?.map((i) => i.path),
            label,
          ).toEqual([[field]]);
          expectNoEcho(JSON.stringify({ message: err.message, data: err.data }));
        }
      }
    }
    // Lists carry no version; the record is unchanged (still version 1).
    const { version, ...fields } = original;
    expect(version).toBe(1);
    expect(await api.patient.list.query()).toEqual([fields]);
  });

  it('well-formed text outside the BMP (a surrogate pair) is accepted and round-trips on both surfaces', async () => {
    const res = await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'E-😀', name: 'Smile 😀', medicalCondition: '𝔄sthma' }));
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number; name: string };
    expect(created).toMatchObject({ patientID: 'E-😀', name: 'Smile 😀', medicalCondition: '𝔄sthma' });
    expect(await api.patient.byId.query({ id: created.id })).toEqual({ ...created, version: 1 });
    const updated = await api.patient.update.mutate({ id: created.id, name: '😀😀' });
    expect(updated.name).toBe('😀😀');
    const { version: _version, ...updatedFields } = updated;
    expect((await api.patient.search.query({ q: '😀😀' })).items).toEqual([updatedFields]);
  });
});

describe('patient.search', () => {
  it('rejects a non-well-formed string in every text filter value and in q, with BAD_REQUEST', async () => {
    const inputs: PatientSearchInput[] = [];
    for (const value of BROKEN) {
      inputs.push({ q: value }, { q: `ok${value}` });
      for (const field of TEXT_FIELDS) {
        inputs.push(
          filterOn(field, { eq: value }),
          filterOn(field, { eq: ['fine', value] }),
          filterOn(field, { ne: value }),
          filterOn(field, { ne: ['fine', value] }),
          filterOn(field, { gte: value }),
          filterOn(field, { lte: value }),
          filterOn(field, { like: value }),
        );
      }
    }
    for (const input of inputs) {
      const err = await trpcFailure(api.patient.search.query(input));
      expect(err.data?.code, JSON.stringify(input)).toBe('BAD_REQUEST');
      expectNoEcho(JSON.stringify({ message: err.message, data: err.data }));
    }
  });

  it('still answers well-formed filters as before', async () => {
    await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'S1', name: 'Zoë' }));
    const found = await api.patient.search.query({
      filter: { name: { eq: ['Zoë', 'other'], like: '^zo' }, patientID: { gte: 'S', lte: 'S2' } },
      q: 'zoë',
    });
    expect(found.items.map((p) => p.patientID)).toEqual(['S1']);
  });
});
