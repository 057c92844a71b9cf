import { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import {
  coerceSchema,
  createOpenApiNodeHttpHandler,
  forEachOpenApiProcedure,
  getInputOutputParsers,
  getPathRegExp,
  instanceofZodTypeLikeVoid,
  instanceofZodTypeObject,
  instanceofZodTypeOptional,
  normalizePath,
  unwrapZodType,
  zodSupportsCoerce,
} from 'trpc-to-openapi';
import { ZodArray } from 'zod';
import type { Context, CreateContext } from '../api/context.ts';
import { createCallerFor, type ProcedureCall, procedureCaller } from '../api/procedure-call.ts';
import type { AppRouter } from '../api/router.ts';
import type { RestMeta, RestRequest } from '../api/trpc.ts';
import { JsonText } from '../core/json-text.ts';
import { INTERNAL, restErrorBody, toApiError } from '../errors.ts';
import { describeError } from '../logger.ts';
import { publicOrigin } from './forwarded.ts';
import { type HttpRequest, type HttpResponse, JSON_CONTENT_TYPE, requestInfo } from './types.ts';

export interface RestHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
  /** Proxy hops trusted about the public scheme and host (config.trustProxy). */
  trustProxy: number;
  /** Answer requests without trpc-to-openapi's per-request scaffolding (see `createRestFastPath`); default true. */
  fastPath?: boolean;
  /** Give trpc-to-openapi a caller that runs procedures through `procedureCaller` (api/procedure-call.ts); default true. */
  fastCaller?: boolean;
}

/**
 * The REST shim: trpc-to-openapi's handler for the procedures that declare `meta.openapi`, built
 * once (building it per request would re-create its route cache) and fed a minimal
 * request/response pair made from our `HttpRequest`. The answer is then made here from what the
 * procedure returned or threw: the status and headers its `meta.rest` asks for, a JsonText body
 * as it is, an error from the error table (src/errors.ts).
 */
export function createRestHandler({ router, createContext, logger, trustProxy, fastPath = true, fastCaller = true }: RestHandlerOptions) {
  const restMeta = collectRestMeta(router);
  const fast = fastPath ? createRestFastPath({ router, createContext, logger, trustProxy }) : undefined;
  /** The adapter request of each context (responseMeta gets the context, not the request). */
  const requests = new WeakMap<Context, AdapterRequest>();
  const handle = createOpenApiNodeHttpHandler({
    // The library calls each procedure through `router.createCaller(ctx)`: this one runs the
    // procedure's chain without tRPC's per-key property definitions (api/procedure-call.ts).
    router: fastCaller ? { ...router, createCaller: createCallerFor(router) } : router,
    createContext: ({ req }) => {
      const r = req as unknown as AdapterRequest;
      const ctx = createContext(requestInfo(r.raw));
      requests.set(ctx, r);
      return ctx;
    },
    // Called with the result before trpc-to-openapi serialises it: the procedure's REST status and
    // headers are decided here, and the keys REST sends as headers leave the result.
    responseMeta: ({ paths, data, errors, ctx }) => {
      const r = ctx && requests.get(ctx);
      if (!r || errors.length > 0) return {};
      const path = paths?.[0];
      // trpc-to-openapi passes the procedure's result itself (not a tRPC response envelope).
      const result: unknown = data[0];
      const { status, headers, body } = restAnswer(
        path ? restMeta.get(path) : undefined,
        result,
        new LazyRestRequest(r.raw, r.url, trustProxy),
      );
      if (body !== undefined) {
        // The result (this request's own object, made by the output validation) then serialises to
        // nothing for trpc-to-openapi, instead of a second, discarded JSON.stringify.
        if (!(result instanceof JsonText)) (result as { toJSON?: () => null }).toJSON = nothing;
      }
      r.outcome = { path, result, ...(body !== undefined ? { body } : {}) };
      return { status, ...(headers ? { headers } : {}) };
    },
    onError: ({ error, path, req }) => {
      (req as unknown as AdapterRequest).outcome = { path, error };
    },
  });

  return async (request: HttpRequest): Promise<HttpResponse> => {
    const answered = fast?.(request);
    if (answered) return answered;
    const req = toAdapterRequest(request);
    const { res, result } = createResponse();
    // Minimal stand-ins (toAdapterRequest, createResponse) with every member the handler uses.
    await handle(req as unknown as Parameters<typeof handle>[0], res as unknown as Parameters<typeof handle>[1]);
    const response = await result;
    const outcome = req.outcome;
    if (!outcome || 'error' in outcome) return restFailure(logger, outcome?.path, outcome ? outcome.error : undefined);
    if (outcome.body !== undefined) response.body = outcome.body;
    return response;
  };
}

/**
 * A procedure's REST answer: the status and headers its `meta.rest` asks for, and the body when it
 * is not the result's plain JSON (a JsonText's own text; a record without the keys REST sends as
 * headers, such as the version, which goes out as the ETag).
 */
function restAnswer(meta: RestMeta | undefined, result: unknown, request: RestRequest) {
  const headers = meta?.headers?.(result, request);
  let body: string | undefined;
  if (result instanceof JsonText) body = meta?.omit ? result.claimWithout(meta.omit) : result.claim();
  else if (meta?.omit && result && typeof result === 'object')
    body = JSON.stringify(withoutKeys(result as Record<string, unknown>, meta.omit));
  return { status: meta?.status?.(result) ?? meta?.successStatus ?? 200, headers, body };
}

/** A procedure's failure (or none recorded: a bug) as the error table's answer; internal ones logged. */
function restFailure(logger: Logger, path: string | undefined, error: unknown): HttpResponse {
  const api = error !== undefined ? toApiError(error) : INTERNAL;
  if (api.code === 'INTERNAL_SERVER_ERROR') {
    const cause = error instanceof Error ? (error.cause ?? error) : error;
    logger.error({ path, err: describeError(cause) }, 'REST procedure failed');
  }
  return { status: api.status, headers: { 'content-type': JSON_CONTENT_TYPE, ...api.headers }, body: restErrorBody(api) };
}

/** The path's characters for which `new URL(...).pathname` is the path itself (no dot segments, escapes or encodings). */
const PLAIN_PATH = /^[A-Za-z0-9_~/-]*$/;

interface FastRoute {
  /** The HTTP method the route answers (the library looks routes up by method, then path). */
  method: string;
  pattern: RegExp;
  /** The procedure's name in the router (`patient.list`). */
  path: string;
  /** What a route of this method must be to be the fast path's own: a query for GET, else a mutation. */
  type: 'query' | 'mutation';
  /** No input at all (a void schema): the procedure gets undefined. */
  voidInput: boolean;
  /** Keys whose schema is an array: a single query value becomes a one-element array. */
  arrayKeys: string[];
  meta: RestMeta | undefined;
  /**
   * The procedure, looked up once (api/procedure-call.ts); undefined for a route left to the
   * library (it still matches here, so a later route of the same path is never taken instead).
   */
  call: ProcedureCall<Context> | undefined;
}

/** The first route of this method whose pattern matches, with its path parameters (one regex run). */
function matchRoute(routes: readonly FastRoute[], method: string, path: string) {
  for (const route of routes) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (match) return { route, params: match.groups ?? {} };
  }
  return undefined;
}

/** Methods whose input is the JSON body (trpc-to-openapi's `acceptsRequestBody`); GET and DELETE read the query. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The REST routes, answered the way trpc-to-openapi's handler answers them, without its
 * per-request scaffolding: the routes (path patterns, input schemas coerced for query strings,
 * keys taking arrays) are worked out once, with the library's own functions, where the library
 * redoes them on every request (a URL, the route search, `coerceSchema`, which also builds a new
 * zod schema for every enum field, a caller proxy, a request/response pair). What stays per
 * request is what decides the answer: the same input object (query values or the JSON body, then
 * path parameters, with If-Match read by `adapterInput`, shared with the library path), the same
 * procedure call (`procedureCaller`: its middlewares, zod input validation, output validation of
 * anything but PostgreSQL's JSON text), and the
 * same answer and failure mapping as the library path above. tests/rest-fast-path.test.ts proves
 * the two answer byte for byte the same, reads and writes.
 *
 * Anything the library answers before calling a procedure, or answers in its own way, returns
 * undefined and is left to it: paths with dots or escapes, no route, a route with merged inputs,
 * a write whose content type is not `application/json…` (415), a body that is empty, not JSON
 * (400) or not a JSON object.
 */
export function createRestFastPath({ router, createContext, logger, trustProxy }: Omit<RestHandlerOptions, 'fastPath' | 'fastCaller'>) {
  const restMeta = collectRestMeta(router);
  const routes: FastRoute[] = [];
  forEachOpenApiProcedure(router._def.procedures, ({ path, procedure, meta: { openapi } }) => {
    const type = openapi.method === 'GET' ? 'query' : 'mutation';
    const parsers = getInputOutputParsers(procedure);
    const schema = unwrapZodType(parsers.inputParser, true);
    // Several merged inputs get a new schema per request in the library, a query answering
    // another method or a subscription are the library's own: left to it.
    const own = (procedure._def as { inputs: unknown[] }).inputs.length <= 1 && procedure._def.type === type;
    const arrayKeys: string[] = [];
    if (own && zodSupportsCoerce && instanceofZodTypeObject(schema)) {
      for (const [key, shape] of Object.entries(schema.shape as Record<string, Parameters<typeof instanceofZodTypeOptional>[0]>)) {
        if (
          shape instanceof ZodArray ||
          (instanceofZodTypeOptional(shape) && (shape as { unwrap(): unknown }).unwrap() instanceof ZodArray)
        ) {
          arrayKeys.push(key);
        }
      }
      // What the library does on every request (it only marks schemas to coerce): done once.
      coerceSchema(schema as Parameters<typeof coerceSchema>[0]);
    }
    routes.push({
      method: openapi.method,
      pattern: getPathRegExp(normalizePath(openapi.path)),
      path,
      type,
      voidInput: instanceofZodTypeLikeVoid(schema),
      arrayKeys,
      meta: restMeta.get(path),
      call: own ? procedureCaller(router, path, type) : undefined,
    });
  });

  return (request: HttpRequest): Promise<HttpResponse> | undefined => {
    if (!PLAIN_PATH.test(request.path)) return undefined;
    const normalized = normalizePath(request.path);
    const found = matchRoute(routes, request.method, normalized);
    const call = found?.route.call;
    if (!call) return undefined;
    const { route, params } = found;
    const usesBody = BODY_METHODS.has(request.method);
    // The library refuses any other content type (415) before it reads anything.
    if (usesBody && !request.headers['content-type']?.startsWith('application/json')) return undefined;
    if (route.voidInput) return answer(route, call, undefined, request);
    const { parsed, parseFailed, query } = adapterInput(request);
    if (usesBody) {
      // A body that is missing, not JSON or not an object: the library's own answer.
      if (parseFailed || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      return answer(route, call, { ...parsed, ...params }, request);
    }
    // As the library builds it: one value as is, repeated ones as an array, then path parameters.
    const values: Record<string, unknown> = {};
    for (const key of Object.keys(query)) {
      const value = query[key];
      if (value) values[key] = Array.isArray(value) && value.length === 1 ? value[0] : value;
    }
    const input: Record<string, unknown> = { ...values, ...params };
    for (const key of route.arrayKeys) if (input[key] !== undefined && !Array.isArray(input[key])) input[key] = [input[key]];
    return answer(route, call, input, request);
  };

  async function answer(route: FastRoute, call: ProcedureCall<Context>, input: unknown, request: HttpRequest): Promise<HttpResponse> {
    const ctx = createContext(requestInfo(request));
    let result: unknown;
    try {
      result = await call({
        path: route.path,
        getRawInput: () => Promise.resolve(input),
        ctx,
        type: route.type,
        signal: undefined,
        batchIndex: 0,
      });
    } catch (cause) {
      return restFailure(logger, route.path, errorFromUnknown(cause));
    }
    const { status, headers, body } = restAnswer(route.meta, result, new LazyRestRequest(request, requestUrl(request), trustProxy));
    // As the library sends it: its content type, then the procedure's headers, names in lower case.
    const sent: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE };
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined) sent[name.toLowerCase()] = value;
    }
    return { status, headers: sent, body: body ?? JSON.stringify(result) ?? '' };
  }
}

/** Path and query string as sent. */
const requestUrl = (request: HttpRequest) => (request.query ? `${request.path}?${request.query}` : request.path);

/** trpc-to-openapi's reading of a thrown value: a TRPCError as it is, anything else an internal error caused by it. */
function errorFromUnknown(cause: unknown): TRPCError {
  if (cause instanceof Error && cause.name === 'TRPCError') return cause as TRPCError;
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error', ...(cause instanceof Error ? { cause } : {}) });
}

/** The request as a procedure's REST header builders see it; the public origin only when asked. */
class LazyRestRequest implements RestRequest {
  #origin: ReturnType<typeof publicOrigin> | undefined;
  constructor(
    private readonly raw: HttpRequest,
    readonly url: string,
    private readonly trustProxy: number,
  ) {}
  get host() {
    this.#origin ??= publicOrigin(this.raw.headers, this.trustProxy);
    return this.#origin.host;
  }
  get proto() {
    this.#origin ??= publicOrigin(this.raw.headers, this.trustProxy);
    return this.#origin.proto;
  }
}

const nothing = () => null;

/** A copy of `value` without `keys` (a new object: deleting keys would slow every later access). */
function withoutKeys(value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in value) if (!keys.includes(key)) out[key] = value[key];
  return out;
}

function collectRestMeta(router: AppRouter): Map<string, RestMeta> {
  const map = new Map<string, RestMeta>();
  for (const [path, procedure] of Object.entries(router._def.procedures)) {
    const meta = (procedure as { _def: { meta?: { rest?: RestMeta } } })._def.meta?.rest;
    if (meta) map.set(path, meta);
  }
  return map;
}

/**
 * The query as trpc-to-openapi expects it (`key -> values`), in an object without a prototype:
 * its own parser indexes a plain `{}` by key, so `?toString=` or `?constructor=` made it crash.
 */
function parseQuery(query: string): Record<string, string[]> {
  const out = Object.create(null) as Record<string, string[]>;
  if (query === '') return out;
  for (const [key, value] of new URLSearchParams(query)) {
    out[key] ??= [];
    out[key].push(value);
  }
  return out;
}

/** The request as trpc-to-openapi sees it, plus what our callbacks need. */
interface AdapterRequest {
  method: string;
  url: string;
  query: Record<string, string[]>;
  signal: AbortSignal;
  headers: { get(name: string): string | null };
  readonly body: unknown;
  raw: HttpRequest;
  /** What the procedure answered, or the error (set by responseMeta / onError). */
  outcome?: { path: string | undefined; result: unknown; body?: string } | { path: string | undefined; error: unknown };
}

/**
 * What the adapter gets as `req.signal`. trpc-to-openapi reads it only to fill `info.signal` for
 * createContext, which does not use it, and calls procedures without a signal; so no AbortSignal
 * is made per request for it (that was 4% of a request's CPU). A client that goes away is still
 * seen by the server (HttpRequest.onAbort).
 */
const UNOBSERVED_SIGNAL = new AbortController().signal;

const PARSE_ERROR = () => new TRPCError({ code: 'PARSE_ERROR', message: 'Failed to parse request body' });

/**
 * Builds the request handed to trpc-to-openapi. It inherits from WHATWG `Request` so the library
 * takes its signal and headers as they are, instead of converting a Node request into a new
 * `Request` (URL, Headers, AbortController, stream) on every call; every field it reads is an own
 * property here.
 */
function toAdapterRequest(request: HttpRequest): AdapterRequest {
  const { parsed, parseFailed, query } = adapterInput(request);
  const req = Object.create(Request.prototype) as AdapterRequest;
  return Object.defineProperties(req, {
    method: { value: request.method },
    url: { value: requestUrl(request) },
    query: { value: query },
    signal: { value: UNOBSERVED_SIGNAL },
    headers: { value: { get: (name: string) => request.headers[name.toLowerCase()] ?? null } },
    body: {
      get() {
        if (parseFailed) throw PARSE_ERROR();
        return parsed;
      },
    },
    raw: { value: request },
    outcome: { value: undefined, writable: true },
  });
}

/**
 * What trpc-to-openapi reads a request's input from, for both REST paths: the JSON body (when the
 * content type says JSON), the query (`key -> values`), and If-Match as the procedure's
 * `expectedVersion` (header wins over the body; DELETE takes it in the query).
 */
function adapterInput(request: HttpRequest): { parsed: unknown; parseFailed: boolean; query: Record<string, string[]> } {
  let parsed: unknown;
  let parseFailed = false;
  const contentType = request.headers['content-type'];
  if (request.body !== undefined && request.body.length > 0 && contentType?.toLowerCase().startsWith('application/json')) {
    try {
      parsed = JSON.parse(request.body.toString('utf8'));
    } catch {
      parseFailed = true;
    }
  }
  const query = parseQuery(request.query);
  const expected = WRITES.has(request.method) ? expectedVersionOf(request.headers['if-match']) : undefined;
  if (expected !== undefined) {
    if (request.method === 'DELETE') query.expectedVersion = [String(expected)];
    else if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) parsed = { ...parsed, expectedVersion: expected };
  }
  return { parsed, parseFailed, query };
}

const WRITES = new Set(['PUT', 'PATCH', 'DELETE']);

/**
 * The version an If-Match header names: `"3"` (an ETag this service sent) is 3; `*` (any current
 * version) or no header is no condition; anything else (a weak or foreign ETag, several) is 0,
 * which no version matches: 412, as RFC 9110 has it for an If-Match that matches nothing.
 */
export function expectedVersionOf(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  const value = ifMatch.trim();
  if (value === '*') return undefined;
  const strong = /^"([1-9][0-9]{0,9})"$/.exec(value);
  const n = strong ? Number(strong[1]) : 0;
  return n <= 2_147_483_647 ? n : 0;
}

/** Just enough of Node's ServerResponse for trpc-to-openapi: it sets a status, headers, then ends. */
function createResponse() {
  let resolveResult!: (r: HttpResponse) => void;
  const result = new Promise<HttpResponse>((resolve) => {
    resolveResult = resolve;
  });
  const headers: Record<string, string> = {};
  const res = {
    statusCode: 200,
    setHeader(name: string, value: string | string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    },
    end(body?: string) {
      if (headers['content-type'] === 'application/json') headers['content-type'] = JSON_CONTENT_TYPE;
      resolveResult({ status: this.statusCode, headers, body: body ?? '' });
    },
  };
  return { res, result };
}
