/**
 * The tRPC query fast path (src/http/trpc.ts, createQueryFastPath) answers a single GET query
 * exactly as tRPC's fetch adapter does: same status, same headers, same body, byte for byte,
 * for successes and every kind of error; and it declines (undefined) everything else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextFactory } from '../src/api/context.ts';
import { appRouter } from '../src/api/router.ts';
import { createTokenCheck, parseApiTokens } from '../src/auth.ts';
import { createQueryFastPath, createTrpcHandler } from '../src/http/trpc.ts';
import { createAbortState, createRequest, type HttpRequest } from '../src/http/types.ts';
import { createLogger } from '../src/logger.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { expectSameAnswer } from './support/fast-path.ts';

const TOKEN = 'fast-path-token-0123456789abcdef';
let t: TestApp;
let seq = 0;

beforeAll(async () => {
  t = await startTestApp();
  for (const [i, gender] of ['Female', 'Male', 'Female'].entries()) {
    expect((await postJson(t.baseUrl, '/patients', samplePatient({ patientID: `F${i}`, gender: gender as 'Female' }))).status).toBe(201);
  }
  expect(
    (await fetch(`${t.baseUrl}/patients/2`, { method: 'PATCH', body: '{"age":41}', headers: { 'content-type': 'application/json' } }))
      .status,
  ).toBe(200);
});
afterAll(() => t.stop());

const logger = createLogger('silent');
function handlers(apiTokens: string[] = []) {
  const createContext = createContextFactory({ db: t.app.db, tokens: createTokenCheck(parseApiTokens(apiTokens)) });
  return {
    fast: createQueryFastPath({ router: appRouter, createContext, logger }),
    standard: createTrpcHandler({ router: appRouter, createContext, logger, maxBatchSize: 10, fastQueries: false }),
  };
}

function request(url: string, headers: Record<string, string> = {}, method = 'GET'): HttpRequest {
  const [path, query = ''] = url.split('?') as [string, string?];
  return createRequest(
    { method, path, query, headers: { host: 'h', ...headers }, body: undefined, requestId: `fast-${seq++}` },
    createAbortState(),
  );
}
const q = (procedure: string, input?: unknown) =>
  `/trpc/${procedure}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`}`;

describe('a single GET query: the fast path answers byte for byte as the fetch adapter', () => {
  const cases: [string, string, Record<string, string>?, string[]?][] = [
    ['byId', q('patient.byId', { id: 1 })],
    ['byId of a changed patient (version 2)', q('patient.byId', { id: 2 })],
    ['byId: no such patient (404)', q('patient.byId', { id: 99 })],
    ['byId: an id that names nobody', q('patient.byId', { id: 'abc' })],
    ['byId: invalid input (400 with issues)', q('patient.byId', { nope: 1 })],
    ['byId: no input at all', q('patient.byId')],
    ['list without input (PostgreSQL-made JSON)', q('patient.list')],
    ['list with a filter, a sort and a page', q('patient.list', { gender: 'Female', _sort: 'name', _page: '1', _limit: '1' })],
    ['list with an unknown sort field (400)', q('patient.list', { _sort: 'secret' })],
    ['search', q('patient.search', { filter: { gender: { eq: 'Female' } }, offset: 1, limit: 5 })],
    ['search: limit out of range (400)', q('patient.search', { limit: 0 })],
    ['history', q('patient.history', { id: 2, limit: 1 })],
    ['health', q('health')],
    [
      'superjson input with meta',
      `/trpc/patient.byId?input=${encodeURIComponent(JSON.stringify({ json: { id: 1 }, meta: { values: {} } }))}`,
    ],
    ['auth on: no token (401, WWW-Authenticate)', q('patient.byId', { id: 1 }), {}, [`reader:${TOKEN}`]],
    ['auth on: a wrong token', q('patient.list'), { authorization: 'Bearer wrong-token-wrong-token-wrong' }, [`reader:${TOKEN}`]],
    ['auth on: the token', q('patient.byId', { id: 1 }), { authorization: `Bearer ${TOKEN}` }, [`reader:${TOKEN}`]],
  ];
  it.each(cases)('%s', async (_name, url, headers = {}, tokens = []) => {
    const { fast, standard } = handlers(tokens);
    const quick = await fast(request(url, headers));
    const slow = await standard(request(url, headers));
    expectSameAnswer(quick, slow);
  });
});

describe('the fast path declines what it does not do (the fetch adapter answers)', () => {
  it.each([
    ['a batch', `${q('patient.byId', { id: 1 })}&batch=1`, {}],
    ['a batch by path', '/trpc/patient.byId,health?batch=1&input=%7B%7D', {}],
    ['another parameter', `${q('patient.byId', { id: 1 })}&x=1`, {}],
    ['unparsable input', '/trpc/patient.byId?input=%7Bnot-json', {}],
    ['a mutation', q('patient.delete', { id: 1 }), {}],
    ['a subscription', q('patient.onChange', {}), {}],
    ['an unknown procedure', q('patient.nope', {}), {}],
    ['a percent-encoded procedure name', '/trpc/patient%2EbyId?input=%7B%22json%22%3A%7B%22id%22%3A1%7D%7D', {}],
    ['streaming (trpc-accept)', q('patient.byId', { id: 1 }), { 'trpc-accept': 'application/jsonl' }],
    ['connection params', q('patient.byId', { id: 1 }), { 'connection-params': '1' }],
  ])('%s', async (_name, url, headers) => {
    expect(handlers().fast(request(url, headers))).toBeUndefined();
  });

  it('a POST', () => {
    expect(handlers().fast(request(q('patient.byId', { id: 1 }), {}, 'POST'))).toBeUndefined();
  });
});
