/**
 * What the SQL client throws (sql-client.ts), whatever the driver said. Messages are fixed: a
 * driver message can quote values (`Key (column)=(value) already exists`); the driver's error
 * is kept as `cause` for nobody but the debugger (logs show only class and code).
 */

/** PostgreSQL refused or failed a statement; `sqlState` says why (e.g. 23505 unique violation). */
export class DatabaseError extends Error {
  override name = 'DatabaseError';
  readonly code: string;
  constructor(
    readonly sqlState: string,
    options?: ErrorOptions,
  ) {
    super(`Database statement failed (SQLSTATE ${sqlState})`, options);
    this.code = sqlState;
  }
}

/** The database could not be reached or the connection broke (refused, reset, TLS, timeout). */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  constructor(options?: ErrorOptions) {
    super('Database unavailable', options);
  }
}

/**
 * No connection (or turn in a queue in front of the database) became free within the acquire
 * timeout, DB_ACQUIRE_TIMEOUT_MS: 503, as for an exhausted pool.
 */
export class DatabaseBusyError extends Error {
  override name = 'DatabaseBusyError';
  constructor() {
    super('No database connection became free in time');
  }
}

/** The statement stored nothing because a row broke a rule (SQLSTATE class 23). */
export const isConstraintViolation = (error: unknown): boolean => error instanceof DatabaseError && error.sqlState.startsWith('23');
