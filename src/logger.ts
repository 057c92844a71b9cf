import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. Callers log identifiers, counts and route templates only: never a body,
 * a query value or a patient field. Error objects are reduced to their class and code before
 * logging, because driver messages can quote values.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, fields: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'health-management-api', ...fields },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** What may be logged about an error: its class and code, never its message (it can quote patient data). */
export function describeError(error: unknown): { type: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { type: error.name, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { type: typeof error };
}
