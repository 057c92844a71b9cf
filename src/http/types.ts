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
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export type Handler = (req: HttpRequest) => Promise<HttpResponse>;

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** The body of every error the HTTP layer produces itself: `{ message, code }`. */
export function errorResponse(status: number, code: string, message: string, headers?: Record<string, string>): HttpResponse {
  return json(status, { message, code }, headers);
}
