/**
 * The errors the domain throws. They say what went wrong in the domain's terms; how each one is
 * answered (tRPC code, HTTP status, message, headers) is decided in one place, src/errors.ts.
 * Messages are fixed strings: never a value from the request (it may be patient data).
 */

/** A problem with the request that the client can fix, found outside input validation: 400. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** A list query the service will not run (a bad or too costly `_like` pattern, a bad slice): 400. */
export class QueryError extends BadRequestError {
  override name = 'QueryError';
}

/** No record has this id: 404. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(resource: string) {
    super(`${resource} not found`);
  }
}

/** The write would break a uniqueness rule (another record holds the value): 409. */
export class ConflictError extends Error {
  override name = 'ConflictError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The record changed since the version the client based its write on (If-Match, expectedVersion): 412. */
export class PreconditionFailedError extends Error {
  override name = 'PreconditionFailedError';
  constructor(resource: string) {
    super(`The ${resource.toLowerCase()} changed since the version given`);
  }
}
