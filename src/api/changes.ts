import { z } from 'zod';
import type { Resource } from '../core/resource.ts';
import { type ChangeEvent, type ChangeOp, SlowConsumerError } from '../live/feed.ts';
import type { Context } from './context.ts';

/** A change as subscribers get it: `<record key>` is the record now (absent once it is deleted). */
export type ChangeMessage<Key extends string, Record> = { eventId: number; op: ChangeOp; id: number } & { [K in Key]?: Record };

/** A resume position: an event id as sent back by a client (SSE `Last-Event-ID`, tRPC `lastEventId`). */
export const eventIdParam = z
  .string()
  .regex(/^\d{1,15}$/, 'an event id (a non-negative integer)')
  .transform(Number);

export interface ChangeStreamOptions {
  /** Resume after this event id. */
  after?: number | undefined;
  /** Only this record's changes. */
  recordId?: number | undefined;
  signal: AbortSignal;
  /** Drops the subscriber's connection (it fell too far behind; it resumes by event id). */
  onOverflow?: () => void;
  /** Heartbeat (`null`) after this long without an event. */
  heartbeatMs?: number;
}

/**
 * Opens a resource's live changes for one subscriber (the tRPC subscription and the REST event
 * stream alike), from the thread's change feed (live/feed.ts): resolves once the subscriber's
 * position is fixed, so a client told "open" after that misses nothing. With AUDIT_READS, each
 * event sent is recorded as a read of its record. Ends quietly when the subscriber is dropped for
 * being slow. `null` items are heartbeats (`heartbeatMs`).
 */
export async function openChanges(
  ctx: Context,
  r: Resource,
  key: string,
  options: ChangeStreamOptions,
): Promise<AsyncGenerator<ChangeEvent | null>> {
  if (!ctx.live) throw new Error('live updates are not available in this context');
  const events = await ctx.live.feed(r, key).subscribe(options);
  const route = `${key}.onChange`;
  return (async function* () {
    try {
      for await (const event of events) {
        if (event) ctx.recordRead?.({ route, patientIds: [event.id] });
        yield event;
      }
    } catch (error) {
      if (!(error instanceof SlowConsumerError)) throw error;
    }
  })();
}
