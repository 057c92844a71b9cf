import { createTRPCClient, httpBatchLink, httpLink, httpSubscriptionLink, splitLink, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from './api/router.ts';

export type { ChangeMessage } from './api/changes.ts';
export type { AppRouter } from './api/router.ts';
export type { PatientDto, PatientInput } from './patients/patient.schemas.ts';

/** What `EventSource` implementations have in common (the browser's, or the `eventsource` package's). */
type EventSourceClass = new (url: string, init?: { withCredentials?: boolean; fetch?: typeof fetch }) => EventSource;

export interface ClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** Extra headers for every call (e.g. an Authorization header); subscriptions send them too. */
  headers?: Record<string, string>;
  /** Batch concurrent calls into one HTTP request (default true). */
  batch?: boolean;
  fetch?: typeof fetch;
  /**
   * The EventSource class for subscriptions (`patient.onChange`): browsers have one; on Node pass
   * the `eventsource` package's (it can send the headers above, which a browser's cannot).
   */
  EventSource?: EventSourceClass;
}

/**
 * A typed client for the tRPC API: `createClient({ baseUrl }).patient.list.query()`, and live
 * changes with `client.patient.onChange.subscribe({}, { onData: ({ id, data }) => … })`
 * (reconnects by itself and resumes after the last event id it received).
 */
export function createClient({
  baseUrl,
  headers,
  batch = true,
  fetch: fetchImpl,
  EventSource: eventSource,
}: ClientOptions): TRPCClient<AppRouter> {
  const url = `${baseUrl.replace(/\/+$/, '')}/trpc`;
  const linkOptions = { url, transformer: superjson, headers: () => headers ?? {}, ...(fetchImpl ? { fetch: fetchImpl } : {}) };
  const withHeaders: typeof fetch = (input, init) => {
    const all = new Headers(init?.headers);
    for (const [name, value] of Object.entries(headers ?? {})) all.set(name, value);
    return (fetchImpl ?? fetch)(input, { ...init, headers: all });
  };
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url,
          transformer: superjson,
          ...(eventSource ? { EventSource: eventSource, eventSourceOptions: { fetch: withHeaders } } : {}),
        }),
        false: batch ? httpBatchLink({ ...linkOptions, maxItems: 10 }) : httpLink(linkOptions),
      }),
    ],
  });
}
