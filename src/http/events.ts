import { z } from 'zod';
import { eventIdParam, openChanges } from '../api/changes.ts';
import type { CreateContext } from '../api/context.ts';
import { INT_MAX, type Resource } from '../core/resource.ts';
import { apiError, MISSING_TOKEN_MESSAGE } from '../errors.ts';
import type { ChangeEvent } from '../live/feed.ts';
import { errorResponse, type HttpRequest, type HttpResponse, requestInfo, STREAM_HEADERS } from './types.ts';

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

/** The query's values by name; a repeated name keeps every value (an array: refused, not one picked). */
function queryValues(query: string): Record<string, string | string[]> {
  const params = new URLSearchParams(query);
  return Object.fromEntries(
    [...new Set(params.keys())].map((name) => {
      const values = params.getAll(name);
      return [name, values.length === 1 ? values[0]! : values];
    }),
  );
}

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
  return async (request: HttpRequest): Promise<HttpResponse> => {
    if (request.method !== 'GET') {
      return errorResponse(apiError('METHOD_NOT_SUPPORTED', 'Only GET is supported on the event stream'), { allow: 'GET' });
    }
    const ctx = createContext(requestInfo(request, 'values'));
    if (!ctx.authorized) return errorResponse(apiError('UNAUTHORIZED', MISSING_TOKEN_MESSAGE));
    const query = querySchema.safeParse(queryValues(request.query));
    const header = request.headers['last-event-id'];
    const fromHeader = header === undefined || header === '' ? undefined : eventIdParam.safeParse(header);
    if (!query.success || (fromHeader && !fromHeader.success)) {
      const issues = [...(query.error?.issues ?? []), ...(fromHeader?.error?.issues.map((i) => ({ ...i, path: ['Last-Event-ID'] })) ?? [])];
      return errorResponse(apiError('BAD_REQUEST', 'Invalid event stream parameters', { issues }));
    }
    const after = fromHeader?.data ?? query.data.lastEventId;
    // The subscription is in place before the 200 goes out: a client that writes as soon as the
    // stream opens sees that write.
    const events = await openChanges(ctx, resource, key, {
      after,
      recordId: query.data.id,
      signal: request.signal,
      onOverflow: request.disconnect,
      heartbeatMs: pingMs,
    });
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', ...STREAM_HEADERS },
      stream: frames(events),
    };
  };
}

/** The SSE frames: `retry` first, then each event's frame (built once by the feed), `: ping` for a heartbeat. */
async function* frames(events: AsyncGenerator<ChangeEvent | null>): AsyncGenerator<string> {
  yield `retry: ${RETRY_MS}\n: connected\n\n`;
  for await (const event of events) yield event ? event.frame : ': ping\n\n';
}
