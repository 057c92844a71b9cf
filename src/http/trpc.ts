import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { Logger } from 'pino';
import type { CreateContext } from '../api/context.ts';
import type { AppRouter } from '../api/router.ts';
import { JsonText } from '../core/json-text.ts';
import { toApiError } from '../errors.ts';
import { describeError } from '../logger.ts';
import { type HttpRequest, type HttpResponse, JSON_CONTENT_TYPE, STREAM_HEADERS } from './types.ts';

export interface TrpcHandlerOptions {
  router: AppRouter;
  createContext: CreateContext;
  logger: Logger;
  /** Most calls one batched request may carry. */
  maxBatchSize: number;
}

/**
 * The tRPC API under /trpc, through tRPC's own fetch adapter. A single (unbatched) call whose
 * result is JSON text (core/json-text.ts) is answered with that text in tRPC's envelope, as it
 * is; in a batch, such a result serialises as the value it stands for.
 */
export function createTrpcHandler({ router, createContext, logger, maxBatchSize }: TrpcHandlerOptions) {
  return async (request: HttpRequest): Promise<HttpResponse> => {
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
      createContext: () =>
        createContext({
          requestId: request.requestId,
          ...(request.requestIds ? { requestIds: request.requestIds } : {}),
          authorization: request.headers.authorization,
          results: 'json-text',
          disconnect: request.disconnect,
        }),
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
