import { TRPCError } from '@trpc/server';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import type { Logger } from 'pino';
import type { CreateContext } from '../trpc/context.ts';
import type { RestMeta } from '../trpc/init.ts';
import type { AppRouter } from '../trpc/router.ts';
import { describeError } from '../logging.ts';
import { JSON_CONTENT_TYPE, type HttpRequest, type HttpResponse } from './types.ts';

export interface RestHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
}

type Listener = (...args: unknown[]) => void;

/**
 * The REST shim: trpc-to-openapi's handler for the procedures that declare `meta.openapi`.
 * It is built once (building it per request would re-create its route cache) and fed a minimal
 * Node-style request/response pair made from our `HttpRequest`.
 */
export function createRestHandler({ router, createContext, logger }: RestHandlerOptions) {
  const restMeta = collectRestMeta(router);
  const handle = createOpenApiNodeHttpHandler({
    router,
    createContext: ({ req }) => {
      const r = req as unknown as { requestId: string; url: string; headers: Record<string, string> };
      return createContext({ requestId: r.requestId, url: r.url, host: r.headers.host, authorization: r.headers.authorization });
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
    const { req, res, result } = toNodePair(request);
    await handle(req as never, res as never);
    const response = await result;
    if (req.failed) response.body = toErrorBody(response.status, response.body);
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
  for (const [key, value] of new URLSearchParams(query)) (out[key] ??= []).push(value);
  return out;
}

/** Just enough of Node's IncomingMessage/ServerResponse for trpc-to-openapi. */
function toNodePair(request: HttpRequest) {
  let parsed: unknown;
  let parseFailed = false;
  const contentType = request.headers['content-type'];
  if (request.body !== undefined && contentType?.toLowerCase().startsWith('application/json')) {
    try {
      parsed = request.body.length === 0 ? undefined : JSON.parse(request.body.toString('utf8'));
    } catch {
      parseFailed = true;
    }
  }
  const reqListeners = new Map<string, Listener>();
  const resListeners = new Map<string, Listener>();
  request.signal.addEventListener('abort', () => reqListeners.get('aborted')?.(), { once: true });

  const req = {
    method: request.method,
    url: request.query ? `${request.path}?${request.query}` : request.path,
    headers: request.headers,
    query: parseQuery(request.query),
    requestId: request.requestId,
    /** Set by onError: the body is an error envelope to reduce. */
    failed: false,
    get body() {
      if (parseFailed) throw new TRPCError({ code: 'PARSE_ERROR', message: 'Failed to parse request body' });
      return parsed;
    },
    once: (event: string, fn: Listener) => reqListeners.set(event, fn),
    on: (event: string, fn: Listener) => reqListeners.set(event, fn),
    off: (event: string) => reqListeners.delete(event),
  };

  let resolveResult!: (r: HttpResponse) => void;
  const result = new Promise<HttpResponse>((resolve) => {
    resolveResult = resolve;
  });
  const headers: Record<string, string> = {};
  const res = {
    statusCode: 200,
    writableEnded: false,
    headersSent: false,
    setHeader(name: string, value: string | string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    },
    end(body?: string) {
      this.writableEnded = true;
      if (headers['content-type'] === 'application/json') headers['content-type'] = JSON_CONTENT_TYPE;
      resolveResult({ status: this.statusCode, headers, body: body ?? '' });
      resListeners.get('close')?.();
    },
    once: (event: string, fn: Listener) => resListeners.set(event, fn),
    on: (event: string, fn: Listener) => resListeners.set(event, fn),
    off: (event: string) => resListeners.delete(event),
  };
  return { req, res, result };
}
