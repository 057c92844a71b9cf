import { z } from 'zod';
import { changesOf, eventIdParam } from '../api/changes.ts';
import type { CreateContext } from '../api/context.ts';
import { INT_MAX, type Resource } from '../core/resource.ts';
import { apiError } from '../errors.ts';
import { errorResponse, type HttpRequest, type HttpResponse, STREAM_HEADERS } from './types.ts';

export interface EventsHandlerOptions {
  resource: Resource;
  /** The record's key in each event (`patient`). */
  key: string;
  createContext: CreateContext;
  /** A `: ping` comment after this long without an event (keeps proxies from closing the stream). */
  pingMs: number;
}

/** `?id=` (one record's events) and `?lastEventId=` (for EventSource polyfills that cannot set the header). */
const querySchema = z.strictObject({
  id: z
    .string()
    .regex(/^[1-9]\d{0,9}$/, 'a record id (a positive integer)')
    .transform(Number)
    .refine((n) => n <= INT_MAX, 'a record id (a positive integer)')
    .optional(),
  lastEventId: eventIdParam.optional(),
});

/** How long a browser's EventSource waits before reconnecting after the stream ends. */
const RETRY_MS = 1_000;

/**
 * `GET /patients/events`: the REST twin of `patient.onChange` for clients without tRPC, as
 * `text/event-stream` (an addition to json-server's routes). Each event is
 * `id: <eventId>` + `data: {"eventId":…,"op":…,"id":…,"patient":{…}}`; a client resumes with the
 * standard `Last-Event-ID` header (the browser's EventSource sends it by itself). Same auth as the
 * other patient routes, checked when the stream opens.
 */
export function createEventsHandler({ resource, key, createContext, pingMs }: EventsHandlerOptions) {
  return (request: HttpRequest): HttpResponse => {
    if (request.method !== 'GET') {
      return errorResponse(apiError('METHOD_NOT_SUPPORTED', 'Only GET is supported on the event stream'), { allow: 'GET' });
    }
    const ctx = createContext({
      requestId: request.requestId,
      authorization: request.headers.authorization,
      results: 'values',
      disconnect: request.disconnect,
    });
    if (!ctx.authorized) return errorResponse(apiError('UNAUTHORIZED', 'Missing or invalid bearer token'));
    const query = querySchema.safeParse(Object.fromEntries(new URLSearchParams(request.query)));
    const header = request.headers['last-event-id'];
    const fromHeader = header === undefined || header === '' ? undefined : eventIdParam.safeParse(header);
    if (!query.success || (fromHeader && !fromHeader.success)) {
      const issues = [...(query.error?.issues ?? []), ...(fromHeader?.error?.issues.map((i) => ({ ...i, path: ['Last-Event-ID'] })) ?? [])];
      return errorResponse(apiError('BAD_REQUEST', 'Invalid event stream parameters', { issues }));
    }
    const after = fromHeader?.data ?? query.data.lastEventId;
    const events = changesOf(ctx, resource, key, {
      after,
      recordId: query.data.id,
      signal: request.signal,
      onOverflow: request.disconnect,
    });
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', ...STREAM_HEADERS },
      stream: withPings(events, pingMs, request.signal),
    };
  };
}

/** The SSE frames: `retry`, then each event, with a ping comment whenever nothing was sent for `pingMs`. */
async function* withPings(
  events: AsyncGenerator<{ eventId: number; json: string }>,
  pingMs: number,
  signal: AbortSignal,
): AsyncGenerator<string> {
  yield `retry: ${RETRY_MS}\n: connected\n\n`;
  const PING = Symbol('ping');
  let timer: NodeJS.Timeout | undefined;
  let pending = events.next();
  try {
    while (!signal.aborted) {
      const next = await Promise.race([
        pending,
        new Promise<typeof PING>((resolve) => {
          timer = setTimeout(() => resolve(PING), pingMs);
        }),
      ]);
      clearTimeout(timer);
      if (next === PING) {
        yield ': ping\n\n';
        continue;
      }
      if (next.done) return;
      yield `id: ${next.value.eventId}\ndata: ${next.value.json}\n\n`;
      pending = events.next();
    }
  } finally {
    clearTimeout(timer);
    // The pending `next()` settles once the signal has woken the feed's subscriber.
    void pending.then(
      () => events.return(undefined),
      () => undefined,
    );
  }
}
