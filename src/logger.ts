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
