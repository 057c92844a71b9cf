import { createTRPCClient, httpBatchLink, httpLink, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from './api/router.ts';

export type { AppRouter } from './api/router.ts';
export type { PatientDto, PatientInput } from './patients/patient.schemas.ts';

export interface ClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** Extra headers for every call (e.g. an Authorization header). */
  headers?: Record<string, string>;
  /** Batch concurrent calls into one HTTP request (default true). */
  batch?: boolean;
  fetch?: typeof fetch;
}

/**
 * A typed client for the tRPC API:
 * `createClient({ baseUrl }).patient.list.query()`.
 */
export function createClient({ baseUrl, headers, batch = true, fetch: fetchImpl }: ClientOptions): TRPCClient<AppRouter> {
  const url = `${baseUrl.replace(/\/+$/, '')}/trpc`;
  const linkOptions = { url, transformer: superjson, headers: () => headers ?? {}, ...(fetchImpl ? { fetch: fetchImpl } : {}) };
  return createTRPCClient<AppRouter>({
    links: [batch ? httpBatchLink({ ...linkOptions, maxItems: 10 }) : httpLink(linkOptions)],
  });
}
