import type { Logger } from 'pino';
import { describeError } from '../logger.ts';
import { arrayParams } from './array-param.ts';
import type { SqlClient } from './sql-client.ts';

/** One answer that carried patient data: who, which procedure, which requests, which patients. */
export interface ReadEntry {
  actor: string;
  route: string;
  /** Every request the answer went to (identical concurrent GETs share one answer). */
  requestIds: readonly string[];
  /** The patients answered (single records, histories). */
  patientIds?: readonly number[];
  /** How many patients a list answered. */
  count?: number;
}

export interface ReadAudit {
  record(entry: ReadEntry): void;
  /** Writes what is buffered (SIGTERM, tests); resolves when it is stored or given up. */
  flush(): Promise<void>;
  /** Entries dropped because the buffer was full (the database was away for long). */
  readonly dropped: number;
}

export interface ReadAuditOptions {
  /** Most entries held in memory; past it the oldest are dropped (and counted, and logged). */
  maxBuffered?: number;
  /** How often the buffer is written. */
  flushMs?: number;
  /** Most entries in one insert. */
  batch?: number;
}

/**
 * AUDIT_READS: entries are buffered and written in groups, off the request's path (a request never
 * waits for its audit row), as one multi-row insert into patient_reads per group. Memory is bounded
 * (`maxBuffered`); a failed write keeps the entries for the next try. Entries hold ids and counts,
 * never patient data; logs hold counts only.
 */
export function createReadAudit(
  sql: SqlClient,
  logger: Logger,
  { maxBuffered = 10_000, flushMs = 200, batch = 1_000 }: ReadAuditOptions = {},
): ReadAudit {
  /** `at`: milliseconds since the epoch (a number is cheaper to keep and send than a Date). */
  let buffer: (ReadEntry & { at: number })[] = [];
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  /**
   * Writes one group, and more only while a whole group is waiting: under steady load that is one
   * insert per `flushMs` (not one per insert's round trip, each a commit of its own); `drain`
   * (SIGTERM, tests) writes everything.
   */
  const write = async (drain: boolean) => {
    let first = true;
    while (buffer.length > 0 && (first || drain || buffer.length >= batch)) {
      first = false;
      const group = buffer.slice(0, batch);
      try {
        // One array per column, turned back into rows by unnest (cheaper for PostgreSQL than
        // parsing one JSON document); ids travel as one delimited string per entry.
        await sql.query(
          `insert into patient_reads (at, actor, route, request_ids, patient_ids, count)
           select to_timestamp(at / 1000.0), actor, route, string_to_array(request_ids, ' '),
                  string_to_array(patient_ids, ',')::int[], count
           from unnest(${arrayParams('float8[]', 'text[]', 'text[]', 'text[]', 'text[]', 'int[]')})
             as e(at, actor, route, request_ids, patient_ids, count)`,
          [
            group.map((e) => e.at),
            group.map((e) => e.actor),
            group.map((e) => e.route),
            group.map((e) => e.requestIds.join(' ')),
            group.map((e) => e.patientIds?.join(',') ?? null),
            group.map((e) => e.count ?? null),
          ],
        );
      } catch (error) {
        logger.warn({ entries: buffer.length, err: describeError(error) }, 'read audit: write failed, will retry');
        return;
      }
      buffer = buffer.slice(group.length);
    }
  };
  const flush = (drain = false): Promise<void> => {
    writing ??= write(drain).finally(() => {
      writing = undefined;
    });
    return writing;
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush().then(() => {
        if (buffer.length > 0) schedule();
      });
    }, flushMs);
    timer.unref();
  };

  return {
    record(entry) {
      buffer.push({ ...entry, at: Date.now() });
      if (buffer.length > maxBuffered) {
        const excess = buffer.length - maxBuffered;
        buffer = buffer.slice(excess);
        dropped += excess;
        logger.error({ dropped: excess, total: dropped }, 'read audit: buffer full, oldest entries dropped');
      }
      schedule();
    },
    async flush() {
      clearTimeout(timer);
      timer = undefined;
      await writing;
      await flush(true);
    },
    get dropped() {
      return dropped;
    },
  };
}
