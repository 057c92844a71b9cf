import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { BadRequestError, ConflictError, NotFoundError, PreconditionFailedError } from './core/errors.ts';
import { DatabaseBusyError, DatabaseError, DatabaseUnavailableError } from './db/errors.ts';

/**
 * The one error table: every error a request can meet, as the answer clients get. The tRPC error
 * formatter, the REST adapter and the uWS server all answer from it, so an error has the same
 * code, status, message and headers on every surface. Messages are fixed strings, never a
 * driver's message (it can quote patient values) and never a stack.
 */
export interface ApiError {
  /** tRPC's name for it; also the `code` of a REST error body. */
  code: TRPC_ERROR_CODE_KEY | 'CLIENT_CLOSED_REQUEST';
  status: number;
  message: string;
  /** Extra response headers (Retry-After on a 503, WWW-Authenticate on a 401). */
  headers?: Record<string, string>;
  /** zod's issues, for input validation failures. */
  issues?: unknown[];
  /** The REST body instead of `{ message, code, issues? }`: json-server answers a 404 with `{}`. */
  restBody?: string;
}

/** What a 503 (database unavailable, shutting down, starting) tells clients to wait before retrying. */
export const RETRY_AFTER_SECONDS = '5';

const STATUS = {
  PARSE_ERROR: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_SUPPORTED: 405,
  TIMEOUT: 408,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_CONTENT: 422,
  TOO_MANY_REQUESTS: 429,
  CLIENT_CLOSED_REQUEST: 499,
  INTERNAL_SERVER_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const satisfies Partial<Record<ApiError['code'], number>>;

const HEADERS: Partial<Record<ApiError['code'], Record<string, string>>> = {
  SERVICE_UNAVAILABLE: { 'retry-after': RETRY_AFTER_SECONDS },
  UNAUTHORIZED: { 'www-authenticate': 'Bearer' },
};

/** An answer by code, with the table's status and headers. */
export function apiError(code: keyof typeof STATUS, message: string, extra: Partial<ApiError> = {}): ApiError {
  const headers = HEADERS[code];
  return { code, status: STATUS[code], message, ...(headers ? { headers } : {}), ...extra };
}

/** A patient route without a valid bearer token (API_TOKENS set): every surface says it so. */
export const MISSING_TOKEN_MESSAGE = 'Missing or invalid bearer token';

export const INTERNAL = apiError('INTERNAL_SERVER_ERROR', 'Internal server error');
const UNAVAILABLE = apiError('SERVICE_UNAVAILABLE', 'Database unavailable');

/**
 * tRPC error codes answered with a fixed entry whatever the error's own message: a missing
 * procedure or route (json-server's `{}` body), and a content type other than JSON (tRPC's and
 * trpc-to-openapi's message quotes the client's header, and loses its closing quote).
 */
const FIXED_BY_CODE: Partial<Record<keyof typeof STATUS, ApiError>> = {
  NOT_FOUND: apiError('NOT_FOUND', 'Not found', { restBody: '{}' }),
  UNSUPPORTED_MEDIA_TYPE: apiError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'),
};

/** SQLSTATEs with an answer of their own; the rest of class 22 (data exception) is a 400 too. */
const BY_SQLSTATE: Record<string, ApiError> = {
  '23505': apiError('CONFLICT', 'Conflicts with an existing record'),
  '23514': apiError('BAD_REQUEST', 'Violates a data constraint'),
  '23502': apiError('BAD_REQUEST', 'Violates a data constraint'),
  // invalid_regular_expression: a `_like` pattern PostgreSQL cannot compile.
  '2201B': apiError('BAD_REQUEST', 'Invalid regular expression in a _like filter'),
  // query_canceled: statement_timeout fired.
  '57014': apiError('GATEWAY_TIMEOUT', 'Database query timed out'),
};
const DATA_EXCEPTION = apiError('BAD_REQUEST', 'A value is out of range for its field');

/** A tRPC error's own code (a bad batch, an unknown procedure, no token...). */
interface CodedError extends Error {
  code: string;
  cause?: unknown;
}

/**
 * The answer to an error. `error` may be a domain error, a database error, zod's input
 * validation error, or one of tRPC's own errors (which wrap the others as `cause`).
 */
export function toApiError(error: unknown): ApiError {
  const trpc = isTrpcError(error) ? error : undefined;
  const cause = trpc && trpc.cause !== undefined ? trpc.cause : error;
  // zod's error under tRPC's BAD_REQUEST is the input failing validation. Anywhere else (the output
  // failing its schema: INTERNAL_SERVER_ERROR) it is a bug of ours, a 500 that shows no issues.
  if (isZodError(cause))
    return trpc?.code === 'BAD_REQUEST' ? apiError('BAD_REQUEST', 'Input validation failed', { issues: cause.issues }) : INTERNAL;
  if (cause instanceof NotFoundError) return apiError('NOT_FOUND', cause.message, { restBody: '{}' });
  if (cause instanceof ConflictError) return apiError('CONFLICT', cause.message);
  if (cause instanceof PreconditionFailedError) return apiError('PRECONDITION_FAILED', cause.message);
  if (cause instanceof BadRequestError) return apiError('BAD_REQUEST', cause.message);
  if (cause instanceof DatabaseError) {
    const known = BY_SQLSTATE[cause.sqlState];
    if (known) return known;
    if (cause.sqlState.startsWith('22')) return DATA_EXCEPTION;
    if (/^(08|57P0[123])/.test(cause.sqlState)) return UNAVAILABLE;
    return INTERNAL;
  }
  if (cause instanceof DatabaseUnavailableError || cause instanceof DatabaseBusyError) return UNAVAILABLE;
  if (trpc && trpc.code !== 'INTERNAL_SERVER_ERROR') return fromTrpc(trpc, cause);
  return INTERNAL;
}

/**
 * tRPC's own errors keep their code. Their message is kept when it is written for clients (tRPC's
 * and ours); one that comes from a JavaScript error deep in a library (`Cannot destructure...`)
 * is replaced by a fixed one.
 */
function fromTrpc(error: CodedError, cause: unknown): ApiError {
  const code = (error.code in STATUS ? error.code : 'INTERNAL_SERVER_ERROR') as keyof typeof STATUS;
  const fixed = FIXED_BY_CODE[code];
  if (fixed) return fixed;
  // A TRPCError made without a message of its own repeats its cause's, which may come from anywhere.
  const borrowed = cause !== error && cause instanceof Error && cause.message === error.message;
  if (code !== 'BAD_REQUEST' && code !== 'PARSE_ERROR') return apiError(code, borrowed ? 'Request failed' : error.message);
  if (cause instanceof SyntaxError) return apiError(code, 'Failed to parse request body');
  if (cause !== error && cause instanceof Error) return apiError(code, 'Invalid request');
  return apiError(code, error.message);
}

function isTrpcError(e: unknown): e is CodedError {
  return e instanceof Error && e.name === 'TRPCError' && typeof (e as { code?: unknown }).code === 'string';
}

function isZodError(e: unknown): e is Error & { issues: unknown[] } {
  return e instanceof Error && e.name === 'ZodError' && Array.isArray((e as { issues?: unknown }).issues);
}

/** A REST (and uWS) error body: `{ message, code, issues? }`, or the entry's own body. */
export function restErrorBody(error: ApiError): string {
  return error.restBody ?? JSON.stringify({ message: error.message, code: error.code, ...(error.issues ? { issues: error.issues } : {}) });
}
