import { TRPCError } from '@trpc/server';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import type { Logger } from 'pino';
import type { Context, CreateContext } from '../trpc/context.ts';
import type { RestMeta } from '../trpc/init.ts';
import type { AppRouter } from '../trpc/router.ts';
import { describeError } from '../logging.ts';
import { JSON_CONTENT_TYPE, type HttpRequest, type HttpResponse } from './types.ts';

export interface RestHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
}

/**
 * The REST shim: trpc-to-openapi's handler for the procedures that declare `meta.openapi`.
 * It is built once (building it per request would re-create its route cache) and fed a minimal
 * request/response pair made from our `HttpRequest`.
 */
export function createRestHandler({ router, createContext, logger }: RestHandlerOptions) {
  const restMeta = collectRestMeta(router);
  const handle = createOpenApiNodeHttpHandler({
    router,
    createContext: ({ req }) => {
      const r = req as unknown as AdapterRequest;
      const { raw } = r;
      r.context = createContext({ requestId: raw.requestId, url: r.url, headers: raw.headers, rawJson: true });
      return r.context;
    },
    responseMeta: ({ paths, data, errors, ctx }) => {
      if (errors.length > 0) return {};
      const meta = paths?.length === 1 ? restMeta.get(paths[0] as string) : undefined;
      const result = data[0];
      return { status: meta?.status?.(result) ?? meta?.successStatus ?? 200, headers: { ...ctx?.responseHeaders } };
    },
    onError: ({ error, path, req }) => {
      (req as unknown as { failed: boolean }).failed = true;
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        logger.error({ path, err: describeError(error.cause ?? error) }, 'REST procedure failed');
      }
    },
  });

  return async (request: HttpRequest): Promise<HttpResponse> => {
    const req = toAdapterRequest(request);
    const { res, result } = createResponse();
    await handle(req as never, res as never);
    const response = await result;
    if (req.failed) response.body = toErrorBody(response.status, response.body);
    // A list serialised by PostgreSQL replaces the placeholder the procedure returned.
    else if (req.context?.rawJson?.body !== undefined) response.body = req.context.rawJson.body;
    return response;
  };
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
 * REST error bodies are `{ message, code, issues? }`: nothing of tRPC's internal envelope.
 * A 404 is json-server's `{}`, for an unknown route and an unknown patient alike.
 */
function toErrorBody(status: number, body: string | Uint8Array): string {
  if (status === 404) return '{}';
  try {
    const parsed = JSON.parse(String(body)) as { message?: unknown; code?: unknown; issues?: unknown };
    return JSON.stringify({ message: parsed.message, code: parsed.code, ...(parsed.issues ? { issues: parsed.issues } : {}) });
  } catch {
    return JSON.stringify({ message: 'Internal server error', code: 'INTERNAL_SERVER_ERROR' });
  }
}

/**
 * The query as trpc-to-openapi expects it (`key -> values`), in an object without a prototype:
 * its own parser indexes a plain `{}` by key, so `?toString=` or `?constructor=` made it crash.
 */
function parseQuery(query: string): Record<string, string[]> {
  const out = Object.create(null) as Record<string, string[]>;
  if (query === '') return out;
  for (const [key, value] of new URLSearchParams(query)) (out[key] ??= []).push(value);
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
  context?: Context;
  /** Set by onError: the body is an error envelope to reduce. */
  failed: boolean;
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
  const req = Object.create(Request.prototype) as AdapterRequest;
  return Object.defineProperties(req, {
    method: { value: request.method },
    url: { value: request.query ? `${request.path}?${request.query}` : request.path },
    query: { value: parseQuery(request.query) },
    signal: { value: UNOBSERVED_SIGNAL },
    headers: { value: { get: (name: string) => request.headers[name.toLowerCase()] ?? null } },
    body: {
      get() {
        if (parseFailed) throw PARSE_ERROR();
        return parsed;
      },
    },
    raw: { value: request },
    context: { value: undefined, writable: true },
    failed: { value: false, writable: true },
  });
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
