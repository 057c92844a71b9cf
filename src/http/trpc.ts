import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { getErrorShape, getHTTPStatusCode, getTRPCErrorFromUnknown, transformTRPCResponse } from '@trpc/server/unstable-core-do-not-import';
import type { Logger } from 'pino';
import type { Context, CreateContext } from '../api/context.ts';
import { type ProcedureCall, procedureCaller } from '../api/procedure-call.ts';
import type { AppRouter } from '../api/router.ts';
import { JsonText } from '../core/json-text.ts';
import { toApiError } from '../errors.ts';
import { describeError } from '../logger.ts';
import { type HttpRequest, type HttpResponse, JSON_CONTENT_TYPE, requestInfo, STREAM_HEADERS } from './types.ts';

export interface TrpcHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
  /** Most calls one batched request may carry. */
  maxBatchSize: number;
  /** Answer single GET queries without building fetch objects (see `createQueryFastPath`); default true. */
  fastQueries?: boolean;
}

/**
 * The tRPC API under /trpc, through tRPC's own fetch adapter. A single (unbatched) call whose
 * result is JSON text (core/json-text.ts) is answered with that text in tRPC's envelope, as it
 * is; in a batch, such a result serialises as the value it stands for.
 */
export function createTrpcHandler({ router, createContext, logger, maxBatchSize, fastQueries = true }: TrpcHandlerOptions) {
  const fast = fastQueries ? createQueryFastPath({ router, createContext, logger }) : undefined;
  return async (request: HttpRequest): Promise<HttpResponse> => {
    const answered = fast?.(request);
    if (answered) return answered;
    const url = `http://${request.headers.host ?? 'localhost'}${request.path}${request.query ? `?${request.query}` : ''}`;
    const req = new Request(url, {
      method: request.method,
      headers: request.headers,
      body: request.body as Uint8Array<ArrayBuffer> | undefined,
      signal: request.signal,
    });
    let text: string | undefined;
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      req,
      router,
      maxBatchSize,
      createContext: () => createContext(requestInfo(request)),
      responseMeta: ({ info, data, errors }) => {
        // Decided from what tRPC parsed, not from the raw URL: tRPC decodes the path and the query,
        // so `/trpc/a%2Cb?%62atch=1` is a batch of two however it is spelled.
        const only = data.length === 1 && info && !info.isBatchCall ? data[0] : undefined;
        if (only && 'result' in only && only.result.data instanceof JsonText) text = only.result.data.claim();
        // The error table's headers (Retry-After on a 503, WWW-Authenticate on a 401).
        const headers: Record<string, string> = {};
        for (const error of errors) Object.assign(headers, toApiError(error).headers);
        return { headers };
      },
      onError: ({ error, path }) => {
        if (toApiError(error).code === 'INTERNAL_SERVER_ERROR') {
          logger.error({ path, err: describeError(error.cause ?? error) }, 'tRPC procedure failed');
        }
      },
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    // A few of tRPC's early error answers (415) leave fetch's text/plain default; the body is JSON.
    if (!headers['content-type'] || headers['content-type'].startsWith('text/plain')) headers['content-type'] = JSON_CONTENT_TYPE;
    // A subscription: tRPC's Server-Sent Events stream, sent as tRPC produces it.
    if (response.body && headers['content-type']?.startsWith('text/event-stream')) {
      // (Node's web streams are async iterable; the DOM typings do not say so.)
      return {
        status: response.status,
        headers: { ...headers, ...STREAM_HEADERS },
        stream: response.body as unknown as AsyncIterable<Uint8Array>,
      };
    }
    if (text !== undefined && response.status === 200) {
      // superjson leaves plain JSON (strings and numbers only) as it is: `{"json": value}`, no meta.
      await response.body?.cancel();
      return { status: 200, headers, body: `{"result":{"data":{"json":${text}}}}` };
    }
    return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
  };
}

/** The headers tRPC's fetch adapter sends with a JSON answer. */
const TRPC_HEADERS = { vary: 'trpc-accept, accept', 'content-type': 'application/json' };

/**
 * The common call, `GET /trpc/<query>?input=…` (one query, not a batch, no streaming), answered
 * the way tRPC's fetch adapter answers it: the same procedure call (`procedureCaller`: its
 * middlewares, zod input validation, output validation of anything but PostgreSQL's JSON text), the same error shape (`getErrorShape`, through
 * the error formatter), the same envelope and status (`transformTRPCResponse`,
 * `getHTTPStatusCode`). What it leaves out is per-request scaffolding: a WHATWG `Request` (with
 * its AbortController), a `Response` and its body stream, and the abort-signal plumbing a query
 * does not use. tests/trpc-fast-path.test.ts proves the two answer byte for byte the same.
 * Anything else (batches, mutations, subscriptions, other parameters, unparsable input) returns
 * undefined: the fetch adapter answers it.
 */
export function createQueryFastPath({ router, createContext, logger }: Pick<TrpcHandlerOptions, 'router' | 'createContext' | 'logger'>) {
  const config = router._def._config;
  const queries = new Map(
    Object.entries(router._def.procedures)
      .filter(([, procedure]) => (procedure as { _def: { type: string } })._def.type === 'query')
      .map(([name]) => [name, procedureCaller<Context>(router, name, 'query')]),
  );
  return (request: HttpRequest): Promise<HttpResponse> | undefined => {
    if (request.method !== 'GET' || !request.path.startsWith('/trpc/')) return undefined;
    const path = request.path.slice('/trpc/'.length);
    const call = queries.get(path);
    if (!call) return undefined;
    const { headers } = request;
    if (headers['trpc-accept'] !== undefined || headers['connection-params'] !== undefined) return undefined;
    let input: unknown;
    if (request.query !== '') {
      const params = new URLSearchParams(request.query);
      const raw = params.get('input');
      if (raw === null || params.size !== 1) return undefined;
      try {
        input = config.transformer.input.deserialize(JSON.parse(raw));
      } catch {
        return undefined;
      }
    }
    return answer(call, path, input, request);
  };

  async function answer(call: ProcedureCall<Context>, path: string, input: unknown, request: HttpRequest): Promise<HttpResponse> {
    const ctx = createContext(requestInfo(request));
    try {
      const data: unknown = await call({
        path,
        getRawInput: () => Promise.resolve(input),
        ctx,
        type: 'query',
        signal: undefined,
        batchIndex: 0,
      });
      // superjson leaves plain JSON (strings and numbers only) as it is: `{"json": value}`, no meta.
      if (data instanceof JsonText)
        return { status: 200, headers: { ...TRPC_HEADERS }, body: `{"result":{"data":{"json":${data.claim()}}}}` };
      return { status: 200, headers: { ...TRPC_HEADERS }, body: JSON.stringify(transformTRPCResponse(config, { result: { data } })) };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      const api = toApiError(error);
      if (api.code === 'INTERNAL_SERVER_ERROR') logger.error({ path, err: describeError(error.cause ?? error) }, 'tRPC procedure failed');
      const shape = getErrorShape({ config, error, type: 'query', path, input, ctx });
      const body = transformTRPCResponse(config, { error: shape });
      return {
        status: getHTTPStatusCode({ error: shape }, [error]),
        headers: { ...TRPC_HEADERS, ...api.headers },
        body: JSON.stringify(body),
      };
    }
  }
}
