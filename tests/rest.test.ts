import { readFileSync } from 'node:fs';
import { request as rawRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { RESET_TABLES } from './support/database.ts';

const KEYS = ['age', 'gender', 'id', 'lastVisit', 'medicalCondition', 'name', 'patientID'];
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.stop());
beforeEach(() => t.db.query(RESET_TABLES));

const count = async () => Number((await t.db.query<{ n: string }>('select count(*) as n from patients'))[0]?.n);
const get = (path: string, init?: RequestInit) => fetch(`${t.baseUrl}${path}`, init);

describe('GET /patients', () => {
  it('returns a bare array of camelCase patients with exactly seven keys, ordered by id', async () => {
    for (const id of ['P3', 'P1', 'P2'])
      expect((await postJson(t.baseUrl, '/patients', samplePatient({ patientID: id }))).status).toBe(201);
    await t.db.query(`update patients set name = 'Zed' where patient_id = 'P3'`);
    const res = await get('/patients');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = (await res.json()) as Record<string, unknown>[];
    expect(Array.isArray(body)).toBe(true);
    expect(body.map((p) => p.id)).toEqual([1, 2, 3]);
    expect(body.map((p) => p.patientID)).toEqual(['P3', 'P1', 'P2']);
    for (const p of body) expect(Object.keys(p).sort()).toEqual(KEYS);
    expect(body[0]).toEqual({ ...samplePatient({ patientID: 'P3', name: 'Zed' }), id: 1 });
    expect(typeof body[0]?.id).toBe('number');
  });

  it('returns [] when there are no patients', async () => {
    expect(await (await get('/patients')).json()).toEqual([]);
  });
});

describe('GET /patients/:id', () => {
  it('many clients reading different patients at once (reads are grouped): each gets its own patient, or 404 {}', async () => {
    for (let i = 1; i <= 12; i++)
      expect((await postJson(t.baseUrl, '/patients', samplePatient({ patientID: `G${i}`, age: i }))).status).toBe(201);
    const ids = [...Array.from({ length: 12 }, (_, i) => 12 - i), 99, 5, 5];
    const responses = await Promise.all(ids.map((id) => get(`/patients/${id}`)));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    ids.forEach((id, i) => {
      if (id === 99) {
        expect(responses[i]?.status).toBe(404);
        expect(bodies[i]).toEqual({});
      } else {
        expect(responses[i]?.status).toBe(200);
        expect(bodies[i]).toEqual({ ...samplePatient({ patientID: `G${id}`, age: id }), id });
      }
    });
  });
});

describe('POST /patients', () => {
  it('creates a patient: 201, the stored record and a Location header', async () => {
    const res = await postJson(t.baseUrl, '/patients', samplePatient());
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number };
    expect(created).toEqual({ ...samplePatient(), id: 1 });
    expect(res.headers.get('location')).toBe(`${t.baseUrl}/patients/1`);
    const rows = await t.db.query<{ last_visit: string; created_at: Date }>(
      `select to_char(last_visit, 'YYYY-MM-DD') as last_visit, created_at from patients where id = 1`,
    );
    expect(rows[0]?.last_visit).toBe('2024-05-01');
    expect(Date.now() - new Date(rows[0]!.created_at).getTime()).toBeLessThan(60_000);
  });

  it('accepts a charset parameter on the JSON content type', async () => {
    const res = await postJson(t.baseUrl, '/patients', samplePatient(), { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(201);
  });

  it('rejects invalid fields with 400 {message, code, issues} naming each field, and stores nothing', async () => {
    const res = await postJson(t.baseUrl, '/patients', {
      patientID: '',
      name: 'x'.repeat(256),
      age: 151,
      gender: 'male',
      medicalCondition: '   ',
      lastVisit: '2024-02-30',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string; code: string; issues: { path: string[] }[] };
    expect(Object.keys(body).sort()).toEqual(['code', 'issues', 'message']);
    expect(body.code).toBe('BAD_REQUEST');
    const fields = new Set(body.issues.map((i) => i.path.join('.')));
    expect(fields).toEqual(new Set(['patientID', 'name', 'age', 'gender', 'medicalCondition', 'lastVisit']));
    expect(await count()).toBe(0);
  });

  it.each([
    ['a missing field', (({ age: _age, ...rest }) => rest)(samplePatient())],
    ['a fractional age', samplePatient({ age: 40.5 })],
    ['a negative age', samplePatient({ age: -1 })],
    ['an age as a string', { ...samplePatient(), age: '40' }],
    ['a null age', { ...samplePatient(), age: null }],
    ['an empty-string age', { ...samplePatient(), age: '' }],
    ['a datetime instead of a date', samplePatient({ lastVisit: '2024-05-01T00:00:00Z' })],
    ['a client-chosen id', { ...samplePatient(), id: 99 }],
    ['server timestamps', { ...samplePatient(), createdAt: '1990-01-01T00:00:00Z' }],
    ['an unknown field', { ...samplePatient(), ssn: '123' }],
    ['a NUL byte', samplePatient({ name: 'a\u0000b' })],
    ['an array body', [samplePatient()]],
    ['a string body', 'just a string'],
    ['a null body', null],
  ])('rejects %s with 400 and stores nothing', async (_label, body) => {
    // A REST call first: trpc-to-openapi coerces number fields of shared schemas after one.
    await get('/patients');
    const res = await postJson(t.baseUrl, '/patients', JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('BAD_REQUEST');
    expect(await count()).toBe(0);
  });

  it('stores SQL-looking and unicode text literally', async () => {
    const name = `Robert'); DROP TABLE patients;-- Élodie 👩‍⚕️`;
    const res = await postJson(t.baseUrl, '/patients', samplePatient({ name }));
    expect(res.status).toBe(201);
    const list = (await (await get('/patients')).json()) as { name: string }[];
    expect(list[0]?.name).toBe(name);
  });

  it('answers a duplicate patientID with 409 and keeps the first record', async () => {
    expect((await postJson(t.baseUrl, '/patients', samplePatient())).status).toBe(201);
    const res = await postJson(t.baseUrl, '/patients', samplePatient({ name: 'Someone Else' }));
    expect(res.status).toBe(409);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('CONFLICT');
    expect(body.message).not.toContain('P900');
    expect(await count()).toBe(1);
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await postJson(t.baseUrl, '/patients', 'patientID=P1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toContain('application/json');
    const missing = await fetch(`${t.baseUrl}/patients`, { method: 'POST', body: new Uint8Array([1, 2]) });
    expect(missing.status).toBe(415);
    expect(await count()).toBe(0);
  });

  it('answers malformed JSON with 400 PARSE_ERROR, without echoing the body or a stack', async () => {
    const res = await postJson(t.baseUrl, '/patients', '{"name": "ZZ-SECRET-NAME",');
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ message: 'Failed to parse request body', code: 'PARSE_ERROR' });
    expect(text).not.toContain('ZZ-SECRET-NAME');
  });

  it('answers a body over the limit with 413, with or without Content-Length', async () => {
    const big = JSON.stringify(samplePatient({ name: 'x'.repeat(200 * 1024) }));
    const declared = await postJson(t.baseUrl, '/patients', big);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');

    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${t.baseUrl}/patients`);
      const req = rawRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 30; i++) req.write('x'.repeat(8 * 1024));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).code).toBe('PAYLOAD_TOO_LARGE');
    expect(await count()).toBe(0);
    // The server is still fine afterwards.
    expect((await get('/patients')).status).toBe(200);
  });
});

describe('other routes', () => {
  it("answers an unknown route or method with json-server's 404 {}", async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['DELETE', '/patients'],
      ['PUT', '/patients'],
      ['POST', '/patients/1'],
      ['GET', '/'],
    ] as const) {
      const res = await get(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({});
    }
  });

  it('GET /health does a database round trip', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({ status: 'healthy', database: 'connected' });
    expect(Date.now() - Date.parse(body.timestamp!)).toBeLessThan(60_000);
  });

  it('serves the generated OpenAPI 3.1 document, with POST /patients documented as 201', async () => {
    const res = await get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/health', '/patients', '/patients/events', '/patients/{id}', '/patients/{id}/history']);
    expect(Object.keys(doc.paths['/patients/{id}']!).sort()).toEqual(['delete', 'get', 'patch', 'put']);
    const params = (doc.paths['/patients']!.get as unknown as { parameters: { name: string; in: string }[] }).parameters;
    const names = params.map((p) => p.name);
    for (const n of ['q', '_sort', '_order', '_page', '_limit', '_start', '_end', 'name', 'age_gte', 'name_like', 'gender_ne']) {
      expect(names).toContain(n);
    }
    expect(Object.keys(doc.paths['/patients']!.post!.responses)).toContain('201');
    expect(Object.keys(doc.paths['/patients']!.post!.responses)).not.toContain('200');
    expect(Object.keys(doc.paths['/patients']!.get!.responses)).toContain('200');
    expect(Object.keys(doc.paths['/health']!.get!.responses)).toContain('503');
  });

  it('serves the interactive docs page and its assets from the local package', async () => {
    const page = await get('/docs');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    const bundle = await get('/docs/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    expect((await get('/docs/init.js')).status).toBe(200);
    expect((await get('/docs/../package.json')).status).toBe(404);
  });

  it('returns a request id, and keeps a well-formed one the client sent', async () => {
    const res = await get('/health');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const mine = await get('/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(mine.headers.get('x-request-id')).toBe('trace-123');
    const bad = await get('/health', { headers: { 'x-request-id': 'has spaces and <tags>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is served by the native uWebSockets.js server, which does not announce itself', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
    // uWS's default `uWebSockets: 20` header is a server fingerprint: switched off.
    expect(res.headers.get('uwebsockets')).toBeNull();
    // The server runs in this process: its native addon is mapped here (there is no JS fallback).
    if (process.platform === 'linux') expect(readFileSync('/proc/self/maps', 'utf8')).toMatch(/uws_linux_\w+_\d+\.node/);
  });
});

describe('CORS', () => {
  const allowed = 'http://localhost:5173';

  it('answers a preflight from an allowed origin for every method, with Content-Type allowed', async () => {
    const res = await get('/patients', {
      method: 'OPTIONS',
      headers: { origin: allowed, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    const methods = res.headers.get('access-control-allow-methods')!.split(',');
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) expect(methods).toContain(m);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
  });

  it('gives a disallowed origin no Access-Control-Allow-Origin', async () => {
    const pre = await get('/patients', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await get('/patients', { headers: { origin: 'http://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('exposes Location on create, and X-Total-Count and Link on paged lists, to an allowed origin', async () => {
    const res = await postJson(t.baseUrl, '/patients', samplePatient(), { origin: allowed });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(res.headers.get('access-control-expose-headers')).toBe('Location, ETag');
    const page = await get('/patients?_page=1&_limit=1', { headers: { origin: allowed } });
    expect(page.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(page.headers.get('access-control-expose-headers')).toBe('X-Total-Count, Link');
    expect(page.headers.get('x-total-count')).toBe('1');
  });
});
