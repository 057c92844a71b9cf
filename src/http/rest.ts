import { TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import type { Context, CreateContext } from '../api/context.ts';
import type { AppRouter } from '../api/router.ts';
import type { RestMeta, RestRequest } from '../api/trpc.ts';
import { JsonText } from '../core/json-text.ts';
import { INTERNAL, restErrorBody, toApiError } from '../errors.ts';
import { describeError } from '../logger.ts';
import { publicOrigin } from './forwarded.ts';
import { type HttpRequest, type HttpResponse, JSON_CONTENT_TYPE } from './types.ts';

export interface RestHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
  /** Proxy hops trusted about the public scheme and host (config.trustProxy). */
  trustProxy: number;
}

/**
 * The REST shim: trpc-to-openapi's handler for the procedures that declare `meta.openapi`, built
 * once (building it per request would re-create its route cache) and fed a minimal
 * request/response pair made from our `HttpRequest`. The answer is then made here from what the
 * procedure returned or threw: the status and headers its `meta.rest` asks for, a JsonText body
 * as it is, an error from the error table (src/errors.ts).
 */
export function createRestHandler({ router, createContext, logger, trustProxy }: RestHandlerOptions) {
  const restMeta = collectRestMeta(router);
  /** The adapter request of each context (responseMeta gets the context, not the request). */
  const requests = new WeakMap<Context, AdapterRequest>();
  const handle = createOpenApiNodeHttpHandler({
    router,
    createContext: ({ req }) => {
      const r = req as unknown as AdapterRequest;
      const ctx = createContext({
        requestId: r.raw.requestId,
        ...(r.raw.requestIds ? { requestIds: r.raw.requestIds } : {}),
        authorization: r.raw.headers.authorization,
        results: 'json-text',
      });
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
      const meta = path ? restMeta.get(path) : undefined;
      const headers = meta?.headers?.(result, new LazyRestRequest(r, trustProxy));
      let body: string | undefined;
      if (result instanceof JsonText) {
        // We send its text ourselves: trpc-to-openapi's own JSON.stringify of it is then free.
        body = result.claim();
      } else if (meta?.omit && result && typeof result === 'object') {
        // The version goes out as the ETag; the body keeps json-server's keys. Serialised here, and
        // the result (this request's own object, made by the output validation) then serialises
        // to nothing for trpc-to-openapi, instead of a second, discarded JSON.stringify.
        body = JSON.stringify(withoutKeys(result as Record<string, unknown>, meta.omit));
        (result as { toJSON?: () => null }).toJSON = nothing;
      }
      r.outcome = { path, result, ...(body !== undefined ? { body } : {}) };
      return { status: meta?.status?.(result) ?? meta?.successStatus ?? 200, ...(headers ? { headers } : {}) };
    },
    onError: ({ error, path, req }) => {
      (req as unknown as AdapterRequest).outcome = { path, error };
    },
  });

  return async (request: HttpRequest): Promise<HttpResponse> => {
    const req = toAdapterRequest(request);
    const { res, result } = createResponse();
    // Minimal stand-ins (toAdapterRequest, createResponse) with every member the handler uses.
    await handle(req as unknown as Parameters<typeof handle>[0], res as unknown as Parameters<typeof handle>[1]);
    const response = await result;
    const outcome = req.outcome;
    if (!outcome || 'error' in outcome) {
      const api = outcome ? toApiError(outcome.error) : INTERNAL;
      if (api.code === 'INTERNAL_SERVER_ERROR') {
        const cause = outcome?.error instanceof Error ? (outcome.error.cause ?? outcome.error) : outcome?.error;
        logger.error({ path: outcome?.path, err: describeError(cause) }, 'REST procedure failed');
      }
      return { status: api.status, headers: { 'content-type': JSON_CONTENT_TYPE, ...api.headers }, body: restErrorBody(api) };
    }
    if (outcome.body !== undefined) response.body = outcome.body;
    return response;
  };
}

/** The request as a procedure's REST header builders see it; the public origin only when asked. */
class LazyRestRequest implements RestRequest {
  #origin: ReturnType<typeof publicOrigin> | undefined;
  constructor(
    private readonly r: AdapterRequest,
    private readonly trustProxy: number,
  ) {}
  get url() {
    return this.r.url;
  }
  get host() {
    this.#origin ??= publicOrigin(this.r.raw.headers, this.trustProxy);
    return this.#origin.host;
  }
  get proto() {
    this.#origin ??= publicOrigin(this.r.raw.headers, this.trustProxy);
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
  // If-Match on a write becomes the procedure's `expectedVersion` (header wins over the body).
  const expected = WRITES.has(request.method) ? expectedVersionOf(request.headers['if-match']) : undefined;
  if (expected !== undefined) {
    if (request.method === 'DELETE') query.expectedVersion = [String(expected)];
    else if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) parsed = { ...parsed, expectedVersion: expected };
  }
  const req = Object.create(Request.prototype) as AdapterRequest;
  return Object.defineProperties(req, {
    method: { value: request.method },
    url: { value: request.query ? `${request.path}?${request.query}` : request.path },
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
