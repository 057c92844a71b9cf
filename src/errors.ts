import { TRPCError } from '@trpc/server';
import { tlsFailureReason } from './db/tls.ts';
import { DatabaseBusyError } from './db/wait-queue.ts';
import {
  CheckConstraintViolationException,
  ConnectionException,
  DriverException,
  LockWaitTimeoutException,
  NotNullConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';

/** A problem with the request the client can fix, found outside input validation: 400. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** SQLSTATE query_canceled: statement_timeout fired. */
const QUERY_CANCELED = '57014';

/** SQLSTATE invalid_regular_expression: a `_like` pattern PostgreSQL cannot compile. */
const INVALID_REGEX = '2201B';

/**
 * The one mapping from domain, ORM and driver failures to API errors. Messages are fixed
 * strings: a driver message can quote patient values (`Key (patient_id)=(...) already exists`).
 */
export function toApiError(error: unknown): TRPCError {
  const cause = error instanceof TRPCError && error.code === 'INTERNAL_SERVER_ERROR' ? error.cause : error;
  if (cause instanceof TRPCError) return cause;
  if (cause instanceof BadRequestError) return new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
  if (cause instanceof UniqueConstraintViolationException) {
    return new TRPCError({ code: 'CONFLICT', message: 'Conflicts with an existing record', cause });
  }
  if (
    cause instanceof CheckConstraintViolationException ||
    cause instanceof NotNullConstraintViolationException
  ) {
    return new TRPCError({ code: 'BAD_REQUEST', message: 'Violates a data constraint', cause });
  }
  const sqlState = cause instanceof DriverException ? String((cause as { code?: unknown }).code) : undefined;
  if (sqlState === INVALID_REGEX) {
    return new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid regular expression in a _like filter', cause });
  }
  if (sqlState?.startsWith('22')) {
    // SQLSTATE class 22, data exception: a value the column cannot hold.
    return new TRPCError({ code: 'BAD_REQUEST', message: 'A value is out of range for its field', cause });
  }
  if (sqlState === QUERY_CANCELED) {
    return new TRPCError({ code: 'GATEWAY_TIMEOUT', message: 'Database query timed out', cause });
  }
  if (cause instanceof ConnectionException || cause instanceof LockWaitTimeoutException || isUnavailable(cause)) {
    return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'Database unavailable', cause });
  }
  if (error instanceof TRPCError) return error;
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error', cause });
}

/** Pool and socket failures that MikroORM does not wrap in a ConnectionException. */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'KnexTimeoutError' || error instanceof DatabaseBusyError) return true;
  const code = (error as { code?: unknown }).code;
  if (error instanceof DriverException && typeof code === 'string' && /^(08|57P0[123])/.test(code)) {
    return true;
  }
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01'].includes(code)) return true;
  // A new connection failing TLS (e.g. the server's certificate renewed by another CA).
  if (tlsFailureReason(error)) return true;
  // node-postgres client-side failures carry no code; their messages hold no data.
  return /Connection terminated|Query read timeout|timeout expired|connection error|not queryable|Connection ended/i.test(error.message);
}
