/**
 * The REST GET fast path (src/http/rest.ts, createRestQueryFastPath) answers exactly as
 * trpc-to-openapi's handler does: same status, same headers, same body, byte for byte, for
 * successes and every kind of error, hostile query strings included; and it declines (undefined)
 * everything else, which the library then answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextFactory } from '../src/api/context.ts';
import { appRouter } from '../src/api/router.ts';
import { createTokenCheck, parseApiTokens } from '../src/auth.ts';
import { createRestHandler, createRestQueryFastPath } from '../src/http/rest.ts';
import { createAbortState, createRequest, type HttpRequest } from '../src/http/types.ts';
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
    fast: createRestQueryFastPath({ router: appRouter, createContext, logger, trustProxy }),
    // The library as published: its own handler calling tRPC's own caller.
    standard: createRestHandler({ router: appRouter, createContext, logger, trustProxy, fastQueries: false, fastCaller: false }),
  };
}

function request(url: string, headers: Record<string, string> = {}, method = 'GET'): HttpRequest {
  const [path, query = ''] = url.split(/\?(.*)/s) as [string, string?];
  return createRequest(
    { method, path, query, headers: { host: 'clinic.example:8080', ...headers }, body: undefined, requestId: `rest-fast-${seq++}` },
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

describe('the fast path declines what it does not do (trpc-to-openapi answers)', () => {
  it.each([
    ['a write', '/patients/1', 'PATCH'],
    ['a POST', '/patients', 'POST'],
    ['a DELETE', '/patients/1', 'DELETE'],
    ['HEAD', '/patients', 'HEAD'],
    ['a path with a dot segment', '/patients/../patients/1', 'GET'],
    ['a percent-encoded path', '/patients/%31', 'GET'],
    ['a path with a dot', '/patients/1.0', 'GET'],
    ['no such route', '/nothing-here', 'GET'],
    ['the collection under another name', '/patient', 'GET'],
  ])('%s', (_name, url, method) => {
    expect(handlers().fast(request(url, {}, method))).toBeUndefined();
  });
});
