import type { RequestInfo } from '../api/context.ts';
import { type ApiError, restErrorBody } from '../errors.ts';

/** The transport-neutral request the uWS layer hands to the handlers (copied out of uWS). */
export interface HttpRequest {
  /** Upper-case method. */
  method: string;
  /** Path without the query string, as sent (not decoded). */
  path: string;
  /** Raw query string without the leading `?` ('' when none). */
  query: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The request body, when the request had one. */
  body: Buffer | undefined;
  requestId: string;
  /**
   * Every request this one answers: itself, and the identical GETs that joined it (coalesce.ts).
   * Undefined: itself only.
   */
  requestIds?: readonly string[];
  /** Aborted when the client goes away (created on first use: most requests never need one). */
  readonly signal: AbortSignal;
  /** Calls `listener` when the client goes away (cheaper than a signal listener). */
  onAbort(listener: () => void): void;
  /** Closes the connection at once (a stream whose client reads too slowly). */
  disconnect(): void;
}

/** A request from its copied-out fields and the abort state of whoever owns it. */
export function createRequest(
  fields: Pick<HttpRequest, 'method' | 'path' | 'query' | 'headers' | 'body' | 'requestId' | 'requestIds'>,
  abort: AbortState,
  disconnect: () => void = NOTHING,
): HttpRequest {
  const { method, path, query, headers, body, requestId, requestIds } = fields;
  return new CopiedRequest(method, path, query, headers, body, requestId, requestIds, abort, disconnect);
}

/** One object per request: its fields, and the abort state's signal and listeners through the prototype. */
class CopiedRequest implements HttpRequest {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly query: string,
    readonly headers: Record<string, string>,
    readonly body: Buffer | undefined,
    readonly requestId: string,
    readonly requestIds: readonly string[] | undefined,
    private readonly abortState: AbortState,
    readonly disconnect: () => void,
  ) {}
  get signal(): AbortSignal {
    return this.abortState.signal;
  }
  onAbort(listener: () => void): void {
    this.abortState.onAbort(listener);
  }
}

const NOTHING = () => undefined;

/**
 * Abort notification for one request, without an AbortController per request: the signal is
 * only built when something asks for it.
 */
export class AbortState {
  #controller: AbortController | undefined;
  #listeners: (() => void)[] | undefined;
  #aborted = false;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  onAbort(listener: () => void): void {
    if (this.#aborted) listener();
    else {
      this.#listeners ??= [];
      this.#listeners.push(listener);
    }
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
    if (this.#listeners) for (const listener of this.#listeners) listener();
  }
}

export const createAbortState = (): AbortState => new AbortState();

export type HttpResponse = HttpBodyResponse | HttpStreamResponse;

export interface HttpBodyResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
  stream?: undefined;
}

/**
 * A response sent as it is produced (Server-Sent Events): each chunk is written when the client
 * has taken the previous ones (the iterable is not read ahead), and the iteration is ended
 * (`return()`) when the client goes away or the server stops.
 */
export interface HttpStreamResponse {
  status: number;
  headers: Record<string, string>;
  body?: undefined;
  stream: AsyncIterable<string | Uint8Array>;
}

export type Handler = (req: HttpRequest) => Promise<HttpResponse>;

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Headers of every event stream: proxies must pass each event on at once (nginx buffers a
 * response unless told `X-Accel-Buffering: no`) and must not keep it.
 */
export const STREAM_HEADERS = { 'cache-control': 'no-store', 'x-accel-buffering': 'no' };

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** An error answer from the error table (src/errors.ts), with its status, headers and body. */
export function errorResponse(error: ApiError, headers: Record<string, string> = {}): HttpResponse {
  return { status: error.status, headers: { 'content-type': JSON_CONTENT_TYPE, ...error.headers, ...headers }, body: restErrorBody(error) };
}

/**
 * What a call's context is made from (REST, tRPC and the event stream): the request's id (every
 * id, when identical GETs share the answer), its credentials, how results are wanted, and how to
 * drop the client. Only subscriptions use `disconnect` (a subscriber too slow for its stream);
 * a shared GET's execution gets one that does nothing, and no query reads it.
 */
export const requestInfo = (request: HttpRequest, results: RequestInfo['results'] = 'json-text'): RequestInfo => ({
  requestId: request.requestId,
  ...(request.requestIds ? { requestIds: request.requestIds } : {}),
  authorization: request.headers.authorization,
  results,
  disconnect: request.disconnect,
});
