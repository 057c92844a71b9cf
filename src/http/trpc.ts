import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { Logger } from 'pino';
import type { Context, CreateContext } from '../trpc/context.ts';
import type { AppRouter } from '../trpc/router.ts';
import { describeError } from '../logging.ts';
import { JSON_CONTENT_TYPE, type HttpRequest, type HttpResponse } from './types.ts';

export interface TrpcHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
  /** Most calls one batched request may carry. */
  maxBatchSize: number;
}

/** The tRPC API under /trpc, through tRPC's own fetch adapter. */
export function createTrpcHandler({ router, createContext, logger, maxBatchSize }: TrpcHandlerOptions) {
  return async (request: HttpRequest): Promise<HttpResponse> => {
    const url = `http://${request.headers.host ?? 'localhost'}${request.path}${request.query ? `?${request.query}` : ''}`;
    const req = new Request(url, {
      method: request.method,
      headers: request.headers,
      body: request.body as Uint8Array<ArrayBuffer> | undefined,
      signal: request.signal,
    });
    let context: Context | undefined;
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      req,
      router,
      maxBatchSize,
      createContext: ({ info }) => {
        context = createContext({
          requestId: request.requestId,
          url: url.slice(url.indexOf('/', 8)),
          headers: request.headers,
          // A single, unbatched call may be answered with JSON text made by PostgreSQL (see
          // Context.rawJson). Decided from what tRPC parsed, not from the raw URL: tRPC decodes the
          // path and the query, so `/trpc/a%2Cb?%62atch=1` is a batch of two however it is spelled.
          rawJson: !info.isBatchCall && info.calls.length === 1,
        });
        return context;
      },
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
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
    const raw = context?.rawJson?.body;
    if (raw !== undefined && response.status === 200) {
      // superjson leaves plain JSON (strings and numbers only) as it is: `{"json": value}`, no meta.
      await response.body?.cancel();
      return { status: 200, headers, body: `{"result":{"data":{"json":${raw}}}}` };
    }
    return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
  };
}
