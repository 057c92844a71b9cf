import type { Logger } from 'pino';
import type { EVENT_OPS } from '../core/history-sql.ts';
import type { Resource } from '../core/resource.ts';
import type { SqlClient } from '../db/sql-client.ts';
import { describeError } from '../logger.ts';

/**
 * The live feed of a resource's changes, read from its history table (patient_events): every
 * committed event, once, in event-id order, to every subscriber of this thread.
 *
 * Event ids come from a sequence, so they are handed out in the order the writes *started*, not
 * the order they committed: event 7 can become visible after event 8, or never (its statement
 * failed after taking the id). (That needs the sequence to hand out one id at a time, CACHE 1,
 * bigserial's default: with a cache per connection the order would not hold.) The feed delivers strictly in id order and never skips an id that
 * may still appear: at a gap it takes a transaction id of its own (the horizon), waits until every
 * transaction older than that has ended (PostgreSQL's snapshot xmin reaches it), then treats the
 * id as never written. A write takes its transaction id before its event id (the event is inserted
 * after the record's row is written), so that wait covers it: every write path (core/record-sql.ts,
 * the importer) writes the record first, and a new one must too. This is what lets a client resume
 * from its last event id with no gap and no duplicate. The feed's start waits the same way before
 * it takes its position (see `start`).
 *
 * Why not the snapshot's xmax as the horizon: it is the newest *finished* transaction id + 1, not
 * the next one to be handed out. A transaction that took its id after the later writer's and is
 * still open is neither below it nor in the snapshot's list, and xmin can pass it while that
 * transaction still holds the missing event (tests/live.test.ts, "began writing after").
 * `pg_current_xact_id()` is larger than every transaction id handed out before it.
 *
 * The feed reads when poked (a NOTIFY from PostgreSQL, a write of this process, see live.ts),
 * every `pollMs` as a safety net while anyone listens, and soon again while a gap is open. It
 * reads nothing while this thread has no subscriber.
 */
export type ChangeOp = (typeof EVENT_OPS)[number];

export interface ChangeEvent {
  eventId: number;
  /** The record's id. */
  id: number;
  /** `{"eventId":…,"op":…,"id":…,"patient":{…}}` as PostgreSQL wrote it (no record once deleted). */
  json: string;
  /** The Server-Sent Events frame (`id: …` and `data: …`), built once for every subscriber. */
  frame: string;
}

const changeEvent = (row: EventRow): ChangeEvent => {
  const eventId = Number(row.event_id);
  const json = row.json as string;
  return { eventId, id: row.record_id as number, json, frame: `id: ${eventId}\ndata: ${json}\n\n` };
};

export interface SubscribeOptions {
  /** Resume after this event id (events after it are replayed from the table, then live ones). */
  after?: number | undefined;
  /** Only this record's events. */
  recordId?: number | undefined;
  /** Ends the subscription. */
  signal?: AbortSignal;
  /** Yield a `null` heartbeat whenever nothing was sent for this long. */
  heartbeatMs?: number;
  /**
   * Called once when the subscriber fell `maxQueued` events behind: the transport disconnects it
   * (the client resumes by event id); the iteration then ends with SlowConsumerError.
   */
  onOverflow?: () => void;
}

export interface ChangeFeed {
  /**
   * Registers a subscriber and resolves once its position is fixed: the events after `after` (or
   * after now), in event-id order, until the signal aborts or the feed closes; `null` items are
   * heartbeats (with `heartbeatMs`: nothing was sent for that long).
   */
  subscribe(options?: SubscribeOptions): Promise<AsyncGenerator<ChangeEvent | null, void, undefined>>;
  /** Something may have been written: read the table soon. */
  poke(): void;
  /** Ends every subscription (their iterations return) and stops reading. */
  close(): void;
  readonly subscribers: number;
}

export interface FeedOptions {
  logger: Logger;
  /** The key of the record in each event's JSON (`patient`). */
  recordKey: string;
  /** Safety-net read interval while anyone listens (a lost notification costs at most this). */
  pollMs?: number;
  /** Most events held for one subscriber before it counts as too slow. */
  maxQueued?: number;
  /** Rows per read (live reads and replays alike). */
  batch?: number;
  /** How soon to read again while an id gap is open. */
  gapRetryMs?: number;
  /**
   * After waiting this long for an open transaction (at a gap, or at the start), log a warning
   * once, naming the oldest transaction that holds a transaction id (its pid, database, state and
   * age; never its query, which could hold patient data).
   */
  stallWarnMs?: number;
}

export class SlowConsumerError extends Error {
  override name = 'SlowConsumerError';
  constructor() {
    super('Too far behind the live feed: resume from the last event id');
  }
}

interface Subscriber {
  recordId: number | undefined;
  queue: ChangeEvent[];
  overflowed: boolean;
  onOverflow: (() => void) | undefined;
  wake: (() => void) | undefined;
}

/** A wait for open transactions: since when, and whether it was reported. */
interface Wait {
  since: number;
  warned: boolean;
}

type StallCause = { waitingFor: 'gap'; eventId: number } | { waitingFor: 'start' };

interface EventRow {
  xmin: string;
  event_id: string | null;
  record_id: number | null;
  json: string | null;
}

export function createChangeFeed(
  sql: SqlClient,
  r: Resource,
  { logger, recordKey, pollMs = 1_000, maxQueued = 1_000, batch = 500, gapRetryMs = 20, stallWarnMs = 10_000 }: FeedOptions,
): ChangeFeed {
  const history = r.history;
  if (!history) throw new Error(`${r.name} keeps no history: it has no change feed`);
  const id = r.column(r.idName);
  // The record as it is now, in the API shape (json-server's keys), or null once it is deleted.
  const eventsSql = (where: string) => `
    select e.id::text as event_id, e.${history.column} as record_id,
           json_strip_nulls(json_build_object('eventId', e.id, 'op', e.op, 'id', e.${history.column}, '${recordKey}', to_json(rec)))::text as json
    from (select * from ${history.table} where ${where} order by id limit ?) e
    left join lateral (select ${r.selectForJson} from ${r.table} where ${id} = e.${history.column}) rec on true
    order by e.id`;
  const liveSql = `
    with snap as (select pg_snapshot_xmin(pg_current_snapshot())::text as xmin)
    select snap.xmin, ev.* from snap left join lateral (${eventsSql('id > ?::bigint')}) ev on true`;
  const replaySql = eventsSql('id > ?::bigint and id <= ?::bigint');
  const replayOneSql = eventsSql(`id > ?::bigint and id <= ?::bigint and ${history.column} = ?`);

  const liveBatch = Math.min(batch, maxQueued);
  const subscribers = new Set<Subscriber>();
  /** Last event id delivered (every id up to it is delivered or known never to exist); undefined while idle. */
  let cursor: number | undefined;
  let starting: Promise<void> | undefined;
  /** An open gap: the first missing id and the horizon taken when it was first seen. */
  let gap: (Wait & { at: number; horizon: bigint }) | undefined;
  let reading = false;
  let again = false;
  /** Bumped whenever the feed stops: a read begun before cannot apply to a later start. */
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /**
   * A transaction id larger than that of every transaction that has written anything so far. The
   * statement's own transaction ends at once (it writes no row); this runs only when a gap is
   * first seen, and the feed's start takes one the same way.
   */
  const newHorizon = async () => {
    const [row] = await sql.query<{ horizon: string }>('select pg_current_xact_id()::text as horizon');
    return BigInt(row!.horizon);
  };

  const deliver = (event: ChangeEvent) => {
    for (const s of subscribers) {
      if (s.overflowed || (s.recordId !== undefined && s.recordId !== event.id)) continue;
      if (s.queue.length >= maxQueued) {
        s.overflowed = true;
        s.queue.length = 0;
        // A failing disconnect must not cost the other subscribers this event.
        try {
          s.onOverflow?.();
        } catch (error) {
          logger.error({ err: describeError(error) }, 'live feed: disconnecting a slow subscriber failed');
        }
      } else s.queue.push(event);
      s.wake?.();
    }
  };

  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (closed || subscribers.size === 0) return;
    timer = setTimeout(read, ms);
    timer.unref();
  };

  async function read(): Promise<void> {
    if (reading) {
      again = true;
      return;
    }
    if (cursor === undefined || closed) return;
    reading = true;
    let full = false;
    const began = generation;
    try {
      // One read never delivers more than a subscriber may hold: a burst larger than that would
      // drop every subscriber, however fast it reads.
      const rows = await sql.query<EventRow>(liveSql, [cursor, liveBatch]);
      // (With no event after the cursor the statement still answers its snapshot row.)
      full = rows.length === liveBatch && rows[0]?.event_id !== null;
      // The feed stopped (and maybe started again, elsewhere) while this read ran: its rows and
      // its snapshot belong to the old position. Read again from the new one.
      if (began !== generation) {
        again = cursor !== undefined;
      } else {
        for (const row of rows) {
          if (row.event_id === null) break;
          const eventId = Number(row.event_id);
          if (eventId !== cursor + 1) {
            // A gap: wait for the transactions that may still hold it, then consider it empty.
            if (!gap || gap.at !== cursor + 1) {
              const horizon = await newHorizon();
              if (began === generation) gap = { at: cursor + 1, horizon, since: Date.now(), warned: false };
              break;
            }
            if (BigInt(row.xmin) < gap.horizon) {
              warnIfStalled(gap, { waitingFor: 'gap', eventId: gap.at });
              break;
            }
          }
          gap = undefined;
          cursor = eventId;
          deliver(changeEvent(row));
        }
      }
    } catch (error) {
      // The database is away: the next poke or poll tries again from the same cursor.
      logger.warn({ err: describeError(error) }, 'live feed: read failed, will retry');
    } finally {
      reading = false;
    }
    if (again || (full && !gap)) {
      again = false;
      void read();
    } else schedule(gap ? gapRetryMs : pollMs);
  }

  /**
   * Tells the operator why live delivery waits: the oldest transaction holding a transaction id
   * (server-wide, as the wait is). Its query is never read: it could hold patient data.
   */
  const warnStalled = async (what: StallCause, since: number) => {
    let oldest: Record<string, unknown> | undefined;
    try {
      [oldest] = await sql.query<Record<string, unknown>>(
        `select pid, datname as database, state, round(extract(epoch from now() - xact_start))::int as "transactionSeconds"
         from pg_stat_activity where backend_xid is not null order by age(backend_xid) desc limit 1`,
      );
    } catch {
      // Only the warning loses its detail.
    }
    logger.warn(
      { ...what, waitedMs: Date.now() - since, oldestTransaction: oldest ?? null },
      'live feed: waiting for an open transaction to end before delivering further events (docs/live-updates.md)',
    );
  };

  /** Warns once per wait, when it has lasted `stallWarnMs`. */
  const warnIfStalled = (wait: Wait, what: StallCause) => {
    if (wait.warned || Date.now() - wait.since < stallWarnMs) return;
    wait.warned = true;
    void warnStalled(what, wait.since);
  };

  /**
   * Resolves once no transaction older than `horizon` is running, or once the feed stopped or
   * closed (whoever waited has left).
   */
  const passed = async (horizon: bigint, began: number) => {
    const wait: Wait = { since: Date.now(), warned: false };
    for (;;) {
      const [row] = await sql.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin');
      if (BigInt(row!.xmin) >= horizon || began !== generation || closed) return;
      warnIfStalled(wait, { waitingFor: 'start' });
      await new Promise((resolve) => setTimeout(resolve, gapRetryMs));
    }
  };

  /**
   * The first subscriber of an idle feed starts it at the newest event. Ids up to it may still be
   * held by transactions running at that moment (a smaller id commits after a larger one): the
   * feed takes its position only once they have all ended, so every id up to its position is
   * final. A subscriber without a position then misses nothing committed after it subscribed, and
   * a replay up to the position is exact.
   */
  const start = () => {
    if (cursor !== undefined) return Promise.resolve();
    if (starting) return starting;
    const began = generation;
    const promise = (async () => {
      const [row] = await sql.query<{ last: string; horizon: string }>(
        `select coalesce(max(id), 0)::text as last, pg_current_xact_id()::text as horizon from ${history.table}`,
      );
      await passed(BigInt(row!.horizon), began);
      // Everyone left (or the feed closed) meanwhile: it stays idle; a newcomer starts afresh.
      if (began !== generation || closed) return;
      cursor = Number(row!.last);
      gap = undefined;
      schedule(pollMs);
    })().finally(() => {
      if (starting === promise) starting = undefined;
    });
    starting = promise;
    return promise;
  };

  const stop = () => {
    generation++;
    cursor = undefined;
    starting = undefined;
    gap = undefined;
    clearTimeout(timer);
  };

  async function* replay(after: number, upTo: number, recordId: number | undefined): AsyncGenerator<ChangeEvent> {
    let from = after;
    while (from < upTo) {
      const rows = await sql.query<EventRow>(
        recordId === undefined ? replaySql : replayOneSql,
        recordId === undefined ? [from, upTo, batch] : [from, upTo, recordId, batch],
      );
      for (const row of rows) yield changeEvent(row);
      if (rows.length < batch) return;
      from = Number(rows.at(-1)!.event_id);
    }
  }

  return {
    async subscribe({ after, recordId, signal, onOverflow, heartbeatMs } = {}) {
      const me: Subscriber = { recordId, queue: [], overflowed: false, onOverflow, wake: undefined };
      let heartbeat: NodeJS.Timeout | undefined;
      let lastSent = Date.now();
      let pingDue = false;
      let left = false;
      // Leaving is tied to the signal too: a subscription never iterated (its client went away
      // before the stream started) must not stay registered.
      const leave = () => {
        if (left) return;
        left = true;
        clearInterval(heartbeat);
        signal?.removeEventListener('abort', leave);
        subscribers.delete(me);
        if (subscribers.size === 0) stop();
        me.wake?.();
      };
      if (closed || signal?.aborted) return (async function* () {})();
      signal?.addEventListener('abort', leave);
      subscribers.add(me);
      try {
        await start();
      } catch (error) {
        leave();
        throw error;
      }
      // Gone while the feed started (its client left, or the feed closed): nothing to iterate.
      if (cursor === undefined || !subscribers.has(me)) {
        leave();
        return (async function* () {})();
      }
      // The subscription's position is fixed here, before the caller tells its client the stream
      // is open: anything committed from now on reaches it.
      const upTo = cursor as number;
      const from = after ?? upTo;
      if (heartbeatMs) {
        heartbeat = setInterval(() => {
          if (Date.now() - lastSent < heartbeatMs) return;
          pingDue = true;
          me.wake?.();
        }, heartbeatMs / 2);
        heartbeat.unref();
      }
      const live = () => !left && !closed && !signal?.aborted;
      const sent = () => {
        lastSent = Date.now();
        pingDue = false;
      };
      return (async function* (): AsyncGenerator<ChangeEvent | null> {
        try {
          // Everything after `from` up to the feed's position comes from the table; what the feed
          // delivers meanwhile waits in the queue, and what was replayed already is skipped.
          let last = from;
          if (from < upTo) {
            for await (const event of replay(from, upTo, recordId)) {
              if (!live()) return;
              if (me.overflowed) break;
              last = event.eventId;
              sent();
              yield event;
            }
          }
          while (live()) {
            if (me.overflowed) throw new SlowConsumerError();
            const event = me.queue.shift();
            if (!event) {
              if (pingDue) {
                sent();
                yield null;
                continue;
              }
              await new Promise<void>((resolve) => {
                me.wake = resolve;
              });
              me.wake = undefined;
              continue;
            }
            if (event.eventId <= last) continue;
            last = event.eventId;
            sent();
            yield event;
          }
        } finally {
          leave();
        }
      })();
    },
    poke() {
      if (cursor !== undefined && !closed) void read();
    },
    close() {
      closed = true;
      stop();
      for (const s of subscribers) s.wake?.();
    },
    get subscribers() {
      return subscribers.size;
    },
  };
}
