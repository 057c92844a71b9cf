/**
 * The REST fast path (src/http/rest.ts, createRestFastPath) answers exactly as trpc-to-openapi's
 * handler does: same status, same headers, same body, byte for byte, for reads and writes,
 * successes and every kind of error, hostile query strings and bodies included; and it declines
 * (undefined) everything else, which the library then answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextFactory } from '../src/api/context.ts';
import { appRouter } from '../src/api/router.ts';
import { createTokenCheck, parseApiTokens } from '../src/auth.ts';
import { createRestFastPath, createRestHandler } from '../src/http/rest.ts';
import { createAbortState, createRequest, type HttpRequest, type HttpResponse } from '../src/http/types.ts';
import { createLogger } from '../src/logger.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { expectSameAnswer } from './support/fast-path.ts';

const TOKEN = 'rest-fast-path-token-0123456789abcdef';
let t: TestApp;
let seq = 0;

beforeAll(async () => {
  t = await startTestApp();
  for (const [i, gender] of ['Female', 'Male', 'Female', 'Other'].entries()) {
    const created = await postJson(
      t.baseUrl,
      '/patients',
      samplePatient({ patientID: `R${i}`, name: `Name ${i} "q" é`, gender: gender as 'Female' }),
    );
    expect(created.status).toBe(201);
  }
  const patched = await fetch(`${t.baseUrl}/patients/2`, {
    method: 'PATCH',
    body: '{"age":41}',
    headers: { 'content-type': 'application/json' },
  });
  expect(patched.status).toBe(200);
  expect((await fetch(`${t.baseUrl}/patients/4`, { method: 'DELETE' })).status).toBe(200);
});
afterAll(() => t.stop());

const logger = createLogger('silent');
function handlers(apiTokens: string[] = [], trustProxy = 0) {
  const createContext = createContextFactory({ db: t.app.db, tokens: createTokenCheck(parseApiTokens(apiTokens)) });
  return {
    fast: createRestFastPath({ router: appRouter, createContext, logger, trustProxy }),
    // The library as published: its own handler calling tRPC's own caller.
    standard: createRestHandler({ router: appRouter, createContext, logger, trustProxy, fastPath: false, fastCaller: false }),
  };
}

function request(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): HttpRequest {
  const [path, query = ''] = url.split(/\?(.*)/s) as [string, string?];
  return createRequest(
    {
      method,
      path,
      query,
      headers: { host: 'clinic.example:8080', ...headers },
      body: body === undefined ? undefined : Buffer.from(body),
      requestId: `rest-fast-${seq++}`,
    },
    createAbortState(),
  );
}

describe('a REST GET: the fast path answers byte for byte as trpc-to-openapi', () => {
  const cases: [string, string, Record<string, string>?, string[]?][] = [
    ['every patient', '/patients'],
    ['a page (X-Total-Count, Link)', '/patients?_page=2&_limit=1'],
    ['a filter, a sort and a page', '/patients?gender=Female&_sort=name&_order=desc&_page=1&_limit=1'],
    ['a repeated filter (an array)', '/patients?id=1&id=3'],
    ['_start/_end', '/patients?_start=1&_end=3'],
    ['q and _like', '/patients?q=name&name_like=%5EName%20%5B12%5D'],
    ['_gte/_lte and _ne', '/patients?age_gte=30&age_lte=41&gender_ne=Male'],
    ['an unknown field (json-server: nothing matches)', '/patients?nope=1'],
    ['an unknown sort field (400)', '/patients?_sort=secret'],
    ['a bad _limit (400)', '/patients?_page=1&_limit=-1'],
    ['an invalid regular expression (400)', '/patients?name_like=(unclosed'],
    ['a huge page number', '/patients?_page=99999999999999999999&_limit=10'],
    ['__proto__ and constructor in the query', '/patients?__proto__=x&constructor=1&toString=2'],
    ['__proto__ repeated (an array)', '/patients?__proto__=1&__proto__=2'],
    ['an empty value and a key without one', '/patients?gender=&age'],
    ['one patient (ETag, no version in the body)', '/patients/1'],
    ['a changed patient (version 2)', '/patients/2'],
    ['a deleted patient (404)', '/patients/4'],
    ['an id that names nobody', '/patients/abc'],
    ['an id beyond int', '/patients/99999999999'],
    ['a leading zero', '/patients/01'],
    ['a trailing slash', '/patients/1/'],
    ['upper case (the library matches paths case-insensitively)', '/PATIENTS/1'],
    ['query values next to the path id', '/patients/1?id=2&x=y'],
    ['history (newest first, paged)', '/patients/2/history?_page=1&_limit=1'],
    ['history of a deleted patient', '/patients/4/history'],
    ['history of an id that never existed (404)', '/patients/99/history'],
    ['health', '/health'],
    ['auth on: no token (401, WWW-Authenticate)', '/patients/1', {}, [`reader:${TOKEN}`]],
    ['auth on: a wrong token', '/patients?_page=1', { authorization: 'Bearer wrong-token-wrong-token-wrong' }, [`reader:${TOKEN}`]],
    ['auth on: the token', '/patients?_page=1&_limit=2', { authorization: `Bearer ${TOKEN}` }, [`reader:${TOKEN}`]],
    [
      'behind a trusted proxy (Link with the public origin)',
      '/patients?_page=1&_limit=2',
      { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.clinic.example' },
    ],
  ];
  it.each(cases)('%s', async (_name, url, headers = {}, tokens = []) => {
    const { fast, standard } = handlers(tokens, headers['x-forwarded-proto'] ? 1 : 0);
    const quick = await fast(request(url, headers));
    const slow = await standard(request(url, headers));
    expectSameAnswer(quick, slow);
  });

  it('the answers are the data, not errors (the comparison above means something)', async () => {
    const { fast } = handlers();
    const page = await fast(request('/patients?gender=Female&_sort=name&_page=1&_limit=1'))!;
    expect(page.status).toBe(200);
    expect(page.headers).toMatchObject({ 'x-total-count': '2', link: expect.stringContaining('rel="next"') });
    expect(JSON.parse(String(page.body))).toEqual([expect.objectContaining({ patientID: 'R0', gender: 'Female' })]);
    const one = await fast(request('/patients/2'))!;
    expect(one.headers.etag).toBe('"2"');
    expect(JSON.parse(String(one.body))).toMatchObject({ id: 2, age: 41 });
    expect(JSON.parse(String(one.body))).not.toHaveProperty('version');
  });
});

describe('a REST write: the fast path answers byte for byte as trpc-to-openapi', () => {
  const JSON_TYPE = { 'content-type': 'application/json' };
  /**
   * Two patients alike but for their ids and patientIDs: the fast path writes one, the library
   * the other, so both start from the same record and the same version.
   */
  let twin = 0;
  async function twins(): Promise<[Record<string, unknown>, Record<string, unknown>]> {
    const n = twin++;
    const made = await Promise.all(
      ['a', 'b'].map(async (side) => {
        const res = await postJson(t.baseUrl, '/patients', samplePatient({ patientID: `W${n}${side}`, name: 'Twin "w" é' }));
        expect(res.status).toBe(201);
        return (await res.json()) as Record<string, unknown>;
      }),
    );
    return made as [Record<string, unknown>, Record<string, unknown>];
  }
  /** The library's answer about patient `b`, written as if it were about patient `a`. */
  function asTwin(answer: HttpResponse, a: Record<string, unknown>, b: Record<string, unknown>): HttpResponse {
    const swap = (text: string) =>
      text
        .replaceAll(`/patients/${b.id}`, `/patients/${a.id}`)
        .replaceAll(`"id":${b.id},`, `"id":${a.id},`)
        .replaceAll(`"patientID":"${b.patientID}"`, `"patientID":"${a.patientID}"`);
    const headers = Object.fromEntries(Object.entries(answer.headers).map(([k, v]) => [k, swap(v)]));
    return { status: answer.status, headers, body: swap(Buffer.from(answer.body as string | Uint8Array).toString()) };
  }
  const full = (over: Record<string, unknown> = {}) => JSON.stringify({ ...samplePatient({ name: 'Replaced' }), ...over });

  // method, path (`{id}` is the twin's id), body (`{pid}` is the twin's patientID), headers
  const cases: [string, string, string, string | undefined, Record<string, string>?][] = [
    ['PATCH one field', 'PATCH', '/patients/{id}', '{"age":41}', JSON_TYPE],
    [
      'PATCH with a charset in the content type',
      'PATCH',
      '/patients/{id}',
      '{"age":42}',
      { 'content-type': 'application/json; charset=utf-8' },
    ],
    ['PATCH with the current If-Match', 'PATCH', '/patients/{id}', '{"age":43}', { ...JSON_TYPE, 'if-match': '"1"' }],
    ['PATCH with a stale If-Match (412)', 'PATCH', '/patients/{id}', '{"age":44}', { ...JSON_TYPE, 'if-match': '"7"' }],
    ['PATCH with a weak If-Match (412)', 'PATCH', '/patients/{id}', '{"age":44}', { ...JSON_TYPE, 'if-match': 'W/"1"' }],
    ['PATCH with If-Match * (no condition)', 'PATCH', '/patients/{id}', '{"age":45}', { ...JSON_TYPE, 'if-match': '*' }],
    [
      'PATCH with expectedVersion in the body and If-Match (header wins)',
      'PATCH',
      '/patients/{id}',
      '{"age":46,"expectedVersion":9}',
      { ...JSON_TYPE, 'if-match': '"1"' },
    ],
    ['PATCH with a wrong type (400, issues)', 'PATCH', '/patients/{id}', '{"age":"old","name":7}', JSON_TYPE],
    ['PATCH with an unknown key', 'PATCH', '/patients/{id}', '{"nope":1,"age":47}', JSON_TYPE],
    ['PATCH with an id in the body (the path wins)', 'PATCH', '/patients/{id}', '{"id":1,"age":48}', JSON_TYPE],
    ['PATCH with __proto__ and constructor keys', 'PATCH', '/patients/{id}', '{"__proto__":{"age":1},"constructor":2,"age":49}', JSON_TYPE],
    ['PATCH with only a __proto__ object', 'PATCH', '/patients/{id}', '{"__proto__":{"age":1,"name":"Proto"}}', JSON_TYPE],
    ['PUT with the fields under __proto__', 'PUT', '/patients/{id}', `{"__proto__":${full({ patientID: '{pid}' })}}`, JSON_TYPE],
    ['PATCH of nobody (404)', 'PATCH', '/patients/999999', '{"age":41}', JSON_TYPE],
    ['PATCH of a non-numeric id', 'PATCH', '/patients/abc', '{"age":41}', JSON_TYPE],
    ['PUT a whole record', 'PUT', '/patients/{id}', full({ patientID: '{pid}' }), JSON_TYPE],
    ['PUT with the current If-Match', 'PUT', '/patients/{id}', full({ patientID: '{pid}' }), { ...JSON_TYPE, 'if-match': '"1"' }],
    ['PUT with a stale If-Match (412)', 'PUT', '/patients/{id}', full({ patientID: '{pid}' }), { ...JSON_TYPE, 'if-match': '"3"' }],
    ['PUT missing fields (400)', 'PUT', '/patients/{id}', '{"name":"Half"}', JSON_TYPE],
    ["PUT taking another patient's patientID (409)", 'PUT', '/patients/{id}', full({ patientID: 'R0' }), JSON_TYPE],
    ['DELETE', 'DELETE', '/patients/{id}', undefined],
    ['DELETE with the current If-Match', 'DELETE', '/patients/{id}', undefined, { 'if-match': '"1"' }],
    ['DELETE with a stale If-Match (412)', 'DELETE', '/patients/{id}', undefined, { 'if-match': '"5"' }],
    ['DELETE with a query', 'DELETE', '/patients/{id}?expectedVersion=1&x=y', undefined],
    ['DELETE of nobody (404)', 'DELETE', '/patients/999999', undefined],
    ['POST a duplicate patientID (409)', 'POST', '/patients', JSON.stringify(samplePatient({ patientID: 'R0' })), JSON_TYPE],
    ['POST a bad record (400, issues)', 'POST', '/patients', '{"patientID":"","age":-1,"gender":"?"}', JSON_TYPE],
    [
      'POST with extra keys and an id',
      'POST',
      '/patients',
      JSON.stringify({ ...samplePatient({ patientID: 'R0' }), id: 5, version: 9 }),
      JSON_TYPE,
    ],
  ];
  it.each(cases)('%s', async (_name, method, url, body, headers = {}) => {
    const [a, b] = await twins();
    const { fast, standard } = handlers();
    const side = (p: Record<string, unknown>) =>
      [url.replace('{id}', String(p.id)), headers, method, body?.replace('{pid}', String(p.patientID))] as const;
    const quick = await fast(request(...side(a)));
    const slow = await standard(request(...side(b)));
    expectSameAnswer(quick, asTwin(slow, a, b));
    // Both wrote the same thing (or nothing): the twins are still alike.
    const [ra, rb] = await Promise.all(
      [a, b].map((p) => t.db.query<Record<string, unknown>>('select name, age, version from patients where id = $1', [p.id])),
    );
    expect(ra).toEqual(rb);
  });

  it('a POST that stores: 201, Location and body alike, and both stored', async () => {
    const { fast, standard } = handlers();
    const body = (id: string) => JSON.stringify(samplePatient({ patientID: id, name: 'Posted' }));
    const quick = await fast(request('/patients', JSON_TYPE, 'POST', body('WPa')));
    const slow = await standard(request('/patients', JSON_TYPE, 'POST', body('WPb')));
    const a = JSON.parse(String(quick?.body)) as Record<string, unknown>;
    const b = JSON.parse(String(slow.body)) as Record<string, unknown>;
    expect(quick?.status).toBe(201);
    expectSameAnswer(quick, asTwin(slow, a, b));
    expect(quick?.headers.location).toBe(`http://clinic.example:8080/patients/${a.id}`);
    expect(await t.db.query('select patient_id from patients where id in ($1, $2) order by id', [a.id, b.id])).toEqual([
      { patient_id: 'WPa' },
      { patient_id: 'WPb' },
    ]);
  });

  it('auth on: a write without the token is 401 on both, and writes nothing', async () => {
    const [a, b] = await twins();
    const { fast, standard } = handlers([`writer:${TOKEN}`]);
    const quick = await fast(request(`/patients/${a.id}`, JSON_TYPE, 'PATCH', '{"age":90}'));
    const slow = await standard(request(`/patients/${b.id}`, JSON_TYPE, 'PATCH', '{"age":90}'));
    expect(quick?.status).toBe(401);
    expectSameAnswer(quick, asTwin(slow, a, b));
    expect(await t.db.query('select age from patients where id in ($1, $2)', [a.id, b.id])).toEqual([{ age: 40 }, { age: 40 }]);
  });

  it('the answers are the writes, not errors (the comparison above means something)', async () => {
    const [a] = await twins();
    const { fast } = handlers();
    const patched = await fast(request(`/patients/${a.id}`, { ...JSON_TYPE, 'if-match': '"1"' }, 'PATCH', '{"age":77}'))!;
    expect(patched.status).toBe(200);
    expect(patched.headers.etag).toBe('"2"');
    expect(JSON.parse(String(patched.body))).toMatchObject({ id: a.id, age: 77 });
    const stale = await fast(request(`/patients/${a.id}`, { ...JSON_TYPE, 'if-match': '"1"' }, 'PATCH', '{"age":78}'))!;
    expect(stale.status).toBe(412);
    const history = await t.db.query<{ op: string }>('select op from patient_events where patient_id = $1 order by id', [a.id]);
    expect(history.map((e) => e.op)).toEqual(['create', 'update']);
  });
});

describe('the fast path declines what it does not do (trpc-to-openapi answers)', () => {
  const JSON_TYPE = { 'content-type': 'application/json' };
  it.each([
    ['HEAD', '/patients', 'HEAD'],
    ['OPTIONS', '/patients', 'OPTIONS'],
    ['a path with a dot segment', '/patients/../patients/1', 'GET'],
    ['a percent-encoded path', '/patients/%31', 'GET'],
    ['a path with a dot', '/patients/1.0', 'GET'],
    ['no such route', '/nothing-here', 'GET'],
    ['no such route for the method', '/patients', 'PATCH', JSON_TYPE, '{}'],
    ['the collection under another name', '/patient', 'GET'],
    ['a write without a content type (415)', '/patients/1', 'PATCH', {}, '{"age":1}'],
    ['a write as text (415)', '/patients/1', 'PATCH', { 'content-type': 'text/plain' }, '{"age":1}'],
    ['a content type in capitals (the library: 415)', '/patients', 'POST', { 'content-type': 'Application/JSON' }, '{}'],
    ['malformed JSON (400)', '/patients', 'POST', JSON_TYPE, '{"patientID":'],
    ['an empty body', '/patients/1', 'PUT', JSON_TYPE, ''],
    ['no body', '/patients/1', 'PATCH', JSON_TYPE, undefined],
    ['a JSON array', '/patients', 'POST', JSON_TYPE, '[{"patientID":"x"}]'],
    ['JSON null', '/patients/1', 'PATCH', JSON_TYPE, 'null'],
    ['a JSON string', '/patients/1', 'PATCH', JSON_TYPE, '"age"'],
  ] as [string, string, string, Record<string, string>?, string?][])('%s', (_name, url, method, headers = {}, body = undefined) => {
    expect(handlers().fast(request(url, headers, method, body))).toBeUndefined();
  });
});
