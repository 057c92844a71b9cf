/**
 * The error table (src/errors.ts): what each error a request can meet is answered with, on every
 * surface (code, status, message, headers, REST body). Messages are fixed: never a driver's or a
 * library's text, never a stack.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BadRequestError, ConflictError, NotFoundError, QueryError } from '../../src/core/errors.ts';
import { DatabaseBusyError, DatabaseError, DatabaseUnavailableError } from '../../src/db/errors.ts';
import { type ApiError, INTERNAL, RETRY_AFTER_SECONDS, restErrorBody, toApiError } from '../../src/errors.ts';

/** A database error whose driver message quotes a value, as PostgreSQL's do. */
const dbError = (sqlState: string) => new DatabaseError(sqlState, { cause: new Error('Key (patient_id)=(SECRET-P1) already exists') });
const zodError = () => {
  const result = z.object({ age: z.number(), name: z.string() }).safeParse({ age: 'SECRET', name: 1 });
  if (result.success) throw new Error('expected a validation failure');
  return result.error;
};
const RETRY = { 'retry-after': RETRY_AFTER_SECONDS };
const internal: ApiError = { code: 'INTERNAL_SERVER_ERROR', status: 500, message: 'Internal server error' };
const unavailable: ApiError = { code: 'SERVICE_UNAVAILABLE', status: 503, message: 'Database unavailable', headers: RETRY };
const dataConstraint: ApiError = { code: 'BAD_REQUEST', status: 400, message: 'Violates a data constraint' };
const outOfRange: ApiError = { code: 'BAD_REQUEST', status: 400, message: 'A value is out of range for its field' };

describe('toApiError', () => {
  it('Retry-After is 5 seconds', () => {
    expect(RETRY_AFTER_SECONDS).toBe('5');
  });

  it.each<[string, unknown, ApiError]>([
    // Domain errors.
    [
      "NotFoundError: 404 with json-server's {} body",
      new NotFoundError('Patient'),
      { code: 'NOT_FOUND', status: 404, message: 'Patient not found', restBody: '{}' },
    ],
    [
      'ConflictError',
      new ConflictError('patientID already exists'),
      { code: 'CONFLICT', status: 409, message: 'patientID already exists' },
    ],
    [
      'QueryError',
      new QueryError('_limit must not be negative'),
      { code: 'BAD_REQUEST', status: 400, message: '_limit must not be negative' },
    ],
    ['BadRequestError', new BadRequestError('The id cannot change'), { code: 'BAD_REQUEST', status: 400, message: 'The id cannot change' }],

    // Database errors by SQLSTATE.
    ['23505 unique violation', dbError('23505'), { code: 'CONFLICT', status: 409, message: 'Conflicts with an existing record' }],
    ['23514 check violation', dbError('23514'), dataConstraint],
    ['23502 not-null violation', dbError('23502'), dataConstraint],
    ['23503 other constraint classes: 500', dbError('23503'), internal],
    [
      '2201B invalid regular expression',
      dbError('2201B'),
      { code: 'BAD_REQUEST', status: 400, message: 'Invalid regular expression in a _like filter' },
    ],
    ['22003 numeric value out of range', dbError('22003'), outOfRange],
    ['22P02 invalid text representation (class 22)', dbError('22P02'), outOfRange],
    ['22007 invalid datetime format (class 22)', dbError('22007'), outOfRange],
    ['57014 statement timeout: 504', dbError('57014'), { code: 'GATEWAY_TIMEOUT', status: 504, message: 'Database query timed out' }],
    ['08006 connection failure: 503', dbError('08006'), unavailable],
    ['08001 cannot connect: 503', dbError('08001'), unavailable],
    ['57P01 admin shutdown: 503', dbError('57P01'), unavailable],
    ['57P02 crash shutdown: 503', dbError('57P02'), unavailable],
    ['57P03 cannot connect now: 503', dbError('57P03'), unavailable],
    ['57P04 database dropped: 500', dbError('57P04'), internal],
    ['42P01 undefined table: 500', dbError('42P01'), internal],
    ['42601 syntax error: 500', dbError('42601'), internal],
    ['XX000 internal error: 500', dbError('XX000'), internal],

    // No database.
    ['DatabaseUnavailableError', new DatabaseUnavailableError({ cause: new Error('connect ECONNREFUSED SECRET') }), unavailable],
    ['DatabaseBusyError', new DatabaseBusyError(), unavailable],

    // tRPC's own errors.
    [
      'UNAUTHORIZED: WWW-Authenticate Bearer',
      new TRPCError({ code: 'UNAUTHORIZED', message: 'Missing or invalid bearer token' }),
      {
        code: 'UNAUTHORIZED',
        status: 401,
        message: 'Missing or invalid bearer token',
        headers: { 'www-authenticate': 'Bearer' },
      },
    ],
    [
      'BAD_REQUEST caused by a SyntaxError',
      new TRPCError({ code: 'BAD_REQUEST', cause: new SyntaxError('Unexpected token S in JSON at SECRET') }),
      {
        code: 'BAD_REQUEST',
        status: 400,
        message: 'Failed to parse request body',
      },
    ],
    [
      'PARSE_ERROR caused by a SyntaxError',
      new TRPCError({ code: 'PARSE_ERROR', message: 'SECRET', cause: new SyntaxError('SECRET') }),
      {
        code: 'PARSE_ERROR',
        status: 400,
        message: 'Failed to parse request body',
      },
    ],
    [
      'BAD_REQUEST caused by a TypeError',
      new TRPCError({ code: 'BAD_REQUEST', cause: new TypeError("Cannot destructure property 'SECRET' of undefined") }),
      {
        code: 'BAD_REQUEST',
        status: 400,
        message: 'Invalid request',
      },
    ],
    [
      'UNSUPPORTED_MEDIA_TYPE: a fixed message, not the client header it quotes',
      new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported content-type "text/SECRET' }),
      {
        code: 'UNSUPPORTED_MEDIA_TYPE',
        status: 415,
        message: 'Content-Type must be application/json',
      },
    ],
    [
      'BAD_REQUEST of its own keeps its message',
      new TRPCError({ code: 'BAD_REQUEST', message: 'Batch of more than 10 calls' }),
      {
        code: 'BAD_REQUEST',
        status: 400,
        message: 'Batch of more than 10 calls',
      },
    ],
    [
      'NOT_FOUND (no such procedure): {} body',
      new TRPCError({ code: 'NOT_FOUND', message: 'No procedure found on path "SECRET"' }),
      {
        code: 'NOT_FOUND',
        status: 404,
        message: 'Not found',
        restBody: '{}',
      },
    ],
    [
      'METHOD_NOT_SUPPORTED',
      new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: 'Unsupported method' }),
      { code: 'METHOD_NOT_SUPPORTED', status: 405, message: 'Unsupported method' },
    ],
    [
      'PAYLOAD_TOO_LARGE',
      new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: 'Request body too large' }),
      { code: 'PAYLOAD_TOO_LARGE', status: 413, message: 'Request body too large' },
    ],
    [
      'SERVICE_UNAVAILABLE: Retry-After',
      new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'Shutting down' }),
      {
        code: 'SERVICE_UNAVAILABLE',
        status: 503,
        message: 'Shutting down',
        headers: RETRY,
      },
    ],
    [
      'CLIENT_CLOSED_REQUEST',
      new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: 'Client closed request' }),
      { code: 'CLIENT_CLOSED_REQUEST', status: 499, message: 'Client closed request' },
    ],
    [
      'TIMEOUT',
      new TRPCError({ code: 'TIMEOUT', message: 'Request timeout' }),
      { code: 'TIMEOUT', status: 408, message: 'Request timeout' },
    ],

    // tRPC wrapping our errors: unwrapped.
    [
      'INTERNAL_SERVER_ERROR wrapping a NotFoundError',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: new NotFoundError('Patient') }),
      {
        code: 'NOT_FOUND',
        status: 404,
        message: 'Patient not found',
        restBody: '{}',
      },
    ],
    [
      'INTERNAL_SERVER_ERROR wrapping a ConflictError',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: new ConflictError('patientID already exists') }),
      {
        code: 'CONFLICT',
        status: 409,
        message: 'patientID already exists',
      },
    ],
    [
      'INTERNAL_SERVER_ERROR wrapping a QueryError',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: new QueryError('At most 10 _like values per field') }),
      {
        code: 'BAD_REQUEST',
        status: 400,
        message: 'At most 10 _like values per field',
      },
    ],
    [
      'INTERNAL_SERVER_ERROR wrapping a 23505',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: dbError('23505') }),
      {
        code: 'CONFLICT',
        status: 409,
        message: 'Conflicts with an existing record',
      },
    ],
    [
      'INTERNAL_SERVER_ERROR wrapping DatabaseUnavailableError',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: new DatabaseUnavailableError() }),
      unavailable,
    ],
    [
      'INTERNAL_SERVER_ERROR wrapping an unknown error',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: new Error('SECRET row data') }),
      internal,
    ],
    [
      'INTERNAL_SERVER_ERROR with a message of its own',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'SECRET detail' }),
      internal,
    ],

    // Anything else: 500, never its message.
    ['an unknown Error', new Error('SECRET: patient Jane Doe'), internal],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'SECRET')"), internal],
    ['a thrown string', 'SECRET', internal],
    ['null', null, internal],
    ['undefined', undefined, internal],
    ['an object with a code', { code: 'CONFLICT', message: 'SECRET' }, internal],
    ['an Error named TRPCError without a string code', Object.assign(new Error('SECRET'), { name: 'TRPCError', code: 409 }), internal],
  ])('%s', (_label, error, expected) => {
    const api = toApiError(error);
    expect(api).toStrictEqual(expected);
    expect(JSON.stringify(api)).not.toContain('SECRET');
  });

  it.each<[string, unknown]>([
    ['a ZodError inside a tRPC BAD_REQUEST (input validation)', new TRPCError({ code: 'BAD_REQUEST', cause: zodError() })],
  ])('%s: 400 with its issues', (_label, error) => {
    const api = toApiError(error);
    expect(api).toMatchObject({ code: 'BAD_REQUEST', status: 400, message: 'Input validation failed' });
    expect(api.headers).toBeUndefined();
    expect(api.restBody).toBeUndefined();
    expect(api.issues).toStrictEqual(zodError().issues);
    expect(api.issues?.map((i) => (i as { path: unknown[] }).path)).toStrictEqual([['age'], ['name']]);
  });

  it.each<[string, unknown]>([
    [
      'a ZodError inside a tRPC INTERNAL_SERVER_ERROR (output validation: our bug)',
      new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: zodError() }),
    ],
    ['a bare ZodError (not from input parsing)', zodError()],
  ])('%s: 500, no issues shown', (_label, error) => {
    expect(toApiError(error)).toStrictEqual(internal);
  });

  it("a tRPC error without a message of its own does not pass on its cause's message", () => {
    const api = toApiError(new TRPCError({ code: 'FORBIDDEN', cause: new Error('SECRET detail') }));
    expect(api).toMatchObject({ code: 'FORBIDDEN', status: 403, message: 'Request failed' });
  });

  it('an Error that only looks like a ZodError (no issues array) is a 500', () => {
    expect(toApiError(Object.assign(new Error('SECRET'), { name: 'ZodError', issues: 'SECRET' }))).toStrictEqual(internal);
  });

  it('answers a shared INTERNAL entry for every unknown error', () => {
    expect(toApiError(new Error('a'))).toStrictEqual(INTERNAL);
  });
});

describe('restErrorBody', () => {
  it.each<[string, unknown, unknown]>([
    ["a 404 is json-server's {}", new NotFoundError('Patient'), {}],
    ['a tRPC NOT_FOUND too', new TRPCError({ code: 'NOT_FOUND', message: 'x' }), {}],
    ['a 409', new ConflictError('patientID already exists'), { message: 'patientID already exists', code: 'CONFLICT' }],
    [
      'a 400',
      new QueryError('_start must be a non-negative integer'),
      { message: '_start must be a non-negative integer', code: 'BAD_REQUEST' },
    ],
    ['a 503 (headers are not in the body)', new DatabaseBusyError(), { message: 'Database unavailable', code: 'SERVICE_UNAVAILABLE' }],
    ['a 500', new Error('SECRET'), { message: 'Internal server error', code: 'INTERNAL_SERVER_ERROR' }],
  ])('%s', (_label, error, body) => {
    const text = restErrorBody(toApiError(error));
    expect(JSON.parse(text)).toStrictEqual(body);
    expect(text).not.toContain('SECRET');
  });

  it('message, code, then issues', () => {
    const text = restErrorBody(toApiError(new TRPCError({ code: 'BAD_REQUEST', cause: zodError() })));
    expect(Object.keys(JSON.parse(text) as object)).toStrictEqual(['message', 'code', 'issues']);
    expect(JSON.parse(text)).toStrictEqual({
      message: 'Input validation failed',
      code: 'BAD_REQUEST',
      issues: JSON.parse(JSON.stringify(zodError().issues)),
    });
  });

  it('an entry with its own body is sent as it is', () => {
    expect(restErrorBody({ code: 'NOT_FOUND', status: 404, message: 'Patient not found', restBody: '{}' })).toBe('{}');
    expect(restErrorBody({ code: 'TIMEOUT', status: 408, message: 'Request timeout' })).toBe(
      '{"message":"Request timeout","code":"TIMEOUT"}',
    );
  });
});
