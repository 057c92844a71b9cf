/**
 * The OpenAPI document as a person uses it: served at /openapi.json, read in Swagger UI (/docs),
 * whose "Try it out" fills request bodies and parameters from the document's examples.
 *
 * - every example fits the JSON Schema it sits in (Ajv, draft 2020-12 as OpenAPI 3.1 says), and
 *   the real zod input/output schemas of its procedure (so the document cannot drift from the code);
 * - POST /patients with the body Swagger UI builds, unedited, creates a patient;
 * - real responses (bodies and headers) match what the document declares for them.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { appRouter } from '../src/api/router.ts';
import { postJson, startTestApp, type TestApp } from './support/app.ts';

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: { in: string; name: string; example?: unknown; schema: Json }[];
  requestBody?: { content: Record<string, { schema: Json; example?: unknown }> };
  responses: Record<string, { headers?: Record<string, { schema: Json }>; content?: Record<string, { schema: Json; example?: unknown }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}
interface Procedure {
  _def: {
    inputs: z.ZodType[];
    output: z.ZodType;
    meta?: { openapi?: { method: string; path: string }; rest?: { omit?: readonly string[] } };
  };
}

let t: TestApp;
let doc: Document;

beforeAll(async () => {
  t = await startTestApp();
  const res = await fetch(`${t.baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Document;
});
afterAll(() => t?.stop());

/** Each REST operation of the document with the tRPC procedure behind it. */
function operations() {
  return Object.entries(appRouter._def.procedures as unknown as Record<string, Procedure>).flatMap(([name, procedure]) => {
    const route = procedure._def.meta?.openapi;
    if (!route) return [];
    const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
    if (!operation) throw new Error(`${name}: ${route.method} ${route.path} is missing from the document`);
    // Over REST, `meta.rest.omit` keys (the version) travel as headers, not in the body.
    const omit = procedure._def.meta?.rest?.omit ?? [];
    const mask: Record<string, true> = Object.fromEntries(omit.map((k) => [k, true]));
    // A procedure that may answer its JSON text (core/json-text.ts) is documented as its values' schema.
    const values = procedure._def.output instanceof z.ZodUnion ? procedure._def.output.options.at(-1) : procedure._def.output;
    const output = omit.length > 0 ? (values as unknown as z.ZodObject).omit(mask) : procedure._def.output;
    return [{ name, path: route.path, operation, input: procedure._def.inputs[0]!, output }];
  });
}

const resolve = (schema: Json): Json =>
  typeof schema.$ref === 'string' ? resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!) : schema;

/**
 * The value Swagger UI's "Try it out" puts in (its JSON Schema 2020-12 sample generator): a
 * schema's first `examples` entry (then `default`, then `example`), else an object built from its
 * properties, every one of them. Where Swagger UI would invent a value ("string", 0, today) this
 * throws instead: such a value is exactly what fails validation.
 */
function swaggerUiSample(schema: Json, where: string): unknown {
  const s = resolve(schema);
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if ('default' in s) return s.default;
  if ('example' in s) return s.example;
  if (s.type === 'array') return [swaggerUiSample(s.items as Json, `${where}[]`)];
  if (s.properties) {
    return Object.fromEntries(
      Object.entries(s.properties as Record<string, Json>).map(([k, v]) => [k, swaggerUiSample(v, `${where}.${k}`)]),
    );
  }
  throw new Error(`${where} has no example: Swagger UI would make one up`);
}

// ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;
const COMPONENTS = 'urn:openapi:components';
let ajv: Ajv2020 | undefined;
/** Validates against a schema node of the document; its component $refs resolve to the document's. */
function jsonSchemaValidator(node: Json): ValidateFunction {
  const toShared = (value: unknown) =>
    JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', `"${COMPONENTS}#/$defs/`)) as Json;
  if (!ajv) {
    ajv = addFormats(new Ajv2020({ allErrors: true, strictTypes: false }));
    ajv.addKeyword('example'); // OpenAPI's own (deprecated) keyword
    ajv.addSchema({ $id: COMPONENTS, $defs: toShared(doc.components.schemas) });
  }
  return ajv.compile(toShared(node));
}
/** Asserts that `value` fits the schema `node`; returns 1 (one example checked). */
function expectValid(node: Json, value: unknown, where: string): number {
  const validate = jsonSchemaValidator(node);
  expect(validate(value) ? [] : validate.errors, where).toEqual([]);
  return 1;
}

describe('age', () => {
  it('is documented as an integer 0–150 in requests and responses', () => {
    const ages = [
      (doc.components.schemas.Patient!.properties as Record<string, Json>).age,
      ...operations().flatMap(({ operation }) =>
        Object.values(operation.requestBody?.content ?? {}).map((m) => (resolve(m.schema).properties as Record<string, Json>).age),
      ),
    ];
    expect(ages.length).toBeGreaterThanOrEqual(4); // Patient, POST, PUT, PATCH
    for (const age of ages) expect(age).toMatchObject({ type: 'integer', minimum: 0, maximum: 150 });
  });

  it('still rejects null and "" after the document was generated and REST calls were made', async () => {
    // The pipe that hides the range from zod-openapi is what keeps trpc-to-openapi's coercion out.
    await fetch(`${t.baseUrl}/patients`);
    const body = swaggerUiSample(doc.paths['/patients']!.post!.requestBody!.content['application/json']!.schema, 'POST /patients') as Json;
    for (const age of [null, '', 151, 36.5]) {
      expect((await postJson(t.baseUrl, '/patients', { ...body, patientID: `AGE-${String(age)}`, age })).status, String(age)).toBe(400);
    }
  });
});

describe('examples', () => {
  it('each one fits the JSON Schema it belongs to', () => {
    let checked = 0;
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) {
        node.forEach((n, i) => {
          walk(n, `${where}/${i}`);
        });
        return;
      }
      if (!node || typeof node !== 'object') return;
      const o = node as Json;
      // A parameter or media type: `example` (and `examples`, a map of Example objects) for `schema`.
      if (o.schema && 'example' in o) checked += expectValid(o.schema as Json, o.example, where);
      // A schema: `examples` is a list; `example` is OpenAPI's deprecated single form.
      else if ('example' in o) checked += expectValid(o, o.example, where);
      if (Array.isArray(o.examples)) for (const e of o.examples) checked += expectValid(o, e, where);
      for (const [k, v] of Object.entries(o)) if (k !== 'examples' && k !== 'example') walk(v, `${where}/${k}`);
    };
    walk(doc, '#');
    expect(checked).toBeGreaterThan(15);
  });

  it('the requests Swagger UI builds from them pass the procedures’ zod input schemas', () => {
    for (const { name, operation, input } of operations()) {
      const path = Object.fromEntries(
        (operation.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => {
            expect(p.example, `${name}: path parameter ${p.name}`).toBeDefined();
            return [p.name, String(p.example)]; // a path segment is text
          }),
      );
      const media = operation.requestBody?.content['application/json'];
      const body = media ? (media.example ?? swaggerUiSample(media.schema, name)) : {};
      // Nothing to send (GET /health): the procedure gets no input at all.
      const nothing = !media && (operation.parameters ?? []).length === 0;
      const parsed = input.safeParse(nothing ? undefined : { ...(body as Json), ...path });
      expect(parsed.error?.issues, name).toBeUndefined();
      // The id parses to null ("no such patient", 404) rather than failing: it must name one.
      if ('id' in path) expect((parsed.data as { id: unknown }).id, name).toEqual(expect.any(Number));
    }
  });

  it('the successful responses they show pass the procedures’ zod output schemas', () => {
    let checked = 0;
    for (const { name, operation, output } of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        // 2xx, and /health's 503 (the same Health object); errors have no procedure schema.
        if (!status.startsWith('2') && !(name === 'health' && status === '503')) continue;
        const media = response.content?.['application/json'];
        if (!media) continue;
        const s = resolve(media.schema);
        if (media.example === undefined && s.type === 'object' && !s.properties) continue; // DELETE's {}
        const example = media.example ?? swaggerUiSample(media.schema, `${name} ${status}`);
        const parsed = output.safeParse(example);
        expect(parsed.error?.issues, `${name} ${status}`).toBeUndefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(7);
  });
});

describe('POST /patients from Swagger UI, unedited', () => {
  it('creates the patient: 201, the stored patient, and an absolute Location', async () => {
    const post = doc.paths['/patients']!.post!;
    const body = swaggerUiSample(post.requestBody!.content['application/json']!.schema, 'POST /patients') as Json;
    expect(body).toEqual({
      patientID: 'P100',
      name: 'Ada Byron',
      age: 36,
      gender: 'Female',
      medicalCondition: 'Migraine',
      lastVisit: '2024-06-01',
    });

    const res = await postJson(t.baseUrl, '/patients', body);
    const created = (await res.json()) as Json;
    expect(res.status, JSON.stringify(created)).toBe(201);
    expect(created).toEqual({ id: expect.any(Number), ...body });
    expectValid(post.responses['201']!.content!['application/json']!.schema, created, 'POST 201 body');

    const documented = post.responses['201']!.headers!;
    expect(documented.Location!.schema).toEqual({ type: 'string', format: 'uri' });
    const location = res.headers.get('location')!;
    expectValid(documented.Location!.schema, location, 'Location');
    expect(location).toBe(`${t.baseUrl}/patients/${String(created.id)}`);
    expect(res.headers.get('access-control-expose-headers')).toContain('Location');
    expect(await (await fetch(location)).json()).toEqual(created);
  });
});

describe('real responses match the document', () => {
  const documentedHeaders = (path: string, method: string, status: string) =>
    new Map(Object.entries(doc.paths[path]![method]!.responses[status]!.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v.schema]));

  it('GET /patients with _page: body and the X-Total-Count, Link and Access-Control-Expose-Headers headers', async () => {
    await postJson(t.baseUrl, '/patients', {
      patientID: 'P200',
      name: 'Alan Turing',
      age: 41,
      gender: 'Male',
      medicalCondition: 'Asthma',
      lastVisit: '2024-02-03',
    });
    const res = await fetch(`${t.baseUrl}/patients?_page=1&_limit=1`);
    expect(res.status).toBe(200);
    expectValid(doc.paths['/patients']!.get!.responses['200']!.content!['application/json']!.schema, await res.json(), 'list body');
    const documented = documentedHeaders('/patients', 'get', '200');
    for (const name of ['x-total-count', 'link', 'access-control-expose-headers']) {
      const value = res.headers.get(name);
      expect(value, name).not.toBeNull();
      expect(documented.has(name), name).toBe(true);
      const schema = documented.get(name)!;
      expectValid(schema, schema.type === 'integer' ? Number(value) : value, name);
    }
  });

  it('404 for an unknown patient is the documented {}', async () => {
    const res = await fetch(`${t.baseUrl}/patients/999999`);
    expect(res.status).toBe(404);
    expectValid(doc.paths['/patients/{id}']!.get!.responses['404']!.content!['application/json']!.schema, await res.json(), '404 body');
  });

  it('400 for an invalid patient has the documented error shape', async () => {
    const res = await postJson(t.baseUrl, '/patients', {
      patientID: ' ',
      name: 'x',
      age: 151,
      gender: 'Unknown',
      medicalCondition: 'x',
      lastVisit: '2024-02-30',
    });
    expect(res.status).toBe(400);
    expectValid(doc.paths['/patients']!.post!.responses['400']!.content!['application/json']!.schema, await res.json(), '400 body');
  });

  it('GET /health is the documented Health object', async () => {
    const res = await fetch(`${t.baseUrl}/health`);
    expect(res.status).toBe(200);
    expectValid(doc.paths['/health']!.get!.responses['200']!.content!['application/json']!.schema, await res.json(), 'health body');
  });
});

describe('optimistic concurrency and history in the document', () => {
  it('single-patient answers document the ETag and the seven-key Patient; writes take If-Match and document 412; no body field for it', () => {
    const item = doc.paths['/patients/{id}']!;
    for (const method of ['get', 'put', 'patch'] as const) {
      const ok = item[method]!.responses['200']!;
      expect((ok as Json).headers, method).toHaveProperty('ETag');
      expect(ok.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Patient' });
    }
    for (const method of ['put', 'patch', 'delete'] as const) {
      const op = item[method]!;
      expect(
        (op.parameters ?? []).map((p) => p.name),
        method,
      ).toContain('If-Match');
      expect(
        (op.parameters ?? []).map((p) => p.name),
        method,
      ).not.toContain('expectedVersion');
      expect(op.responses['412'], method).toBeDefined();
    }
    const body = resolve(item.patch!.requestBody!.content['application/json']!.schema);
    expect(Object.keys(body.properties as object)).not.toContain('expectedVersion');
    expect(doc.components.schemas).not.toHaveProperty('VersionedPatient');
    expect(doc.paths['/patients/{id}/history']?.get?.responses['200']).toBeDefined();
  });
});

describe('live changes in the document', () => {
  it('GET /patients/events is documented as text/event-stream, with its resume parameters, and the served stream matches', async () => {
    const op = doc.paths['/patients/events']!.get!;
    expect(Object.keys(op.responses['200']!.content!)).toEqual(['text/event-stream']);
    expect((op.parameters ?? []).map((p) => p.name)).toEqual(['id', 'lastEventId', 'Last-Event-ID']);
    expect(Object.keys(doc.paths).indexOf('/patients/events')).toBeLessThan(Object.keys(doc.paths).indexOf('/patients/{id}'));
    const ac = new AbortController();
    const res = await fetch(`${t.baseUrl}/patients/events`, { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    ac.abort();
    const bad = await fetch(`${t.baseUrl}/patients/events?id=0`);
    expect(bad.status).toBe(400);
    expect(op.responses['400']).toBeDefined();
  });
});
