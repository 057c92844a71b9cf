import type { HttpResponse } from './types.ts';

const ALLOWED_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE';
const DEFAULT_ALLOWED_HEADERS = 'Content-Type, Authorization';
/** What a response to no origin, or one not allowed, gets (shared: nobody changes it). */
const VARY_ORIGIN: Readonly<Record<string, string>> = Object.freeze({ vary: 'Origin' });

/**
 * CORS with an allow-list of origins (CORS_ORIGINS). An allowed origin is echoed back with
 * credentials allowed; any other origin gets no Access-Control-Allow-Origin, so the browser
 * blocks it. As in json-server, preflights echo the requested headers, and the headers to
 * expose are set per response by the routes that send them (X-Total-Count and Link on sliced
 * lists, Location on create).
 */
export function createCors(allowedOrigins: readonly string[]) {
  const isAllowed = createOriginMatcher(allowedOrigins);

  return {
    /**
     * Headers to add to an ordinary response. `Vary: Origin` goes on every one, with or without
     * an Origin: the answer differs by Origin, so a shared cache must not hand a response stored
     * for a request without Origin (or from another origin) to a browser whose origin is allowed.
     */
    responseHeaders(origin: string | undefined): Readonly<Record<string, string>> {
      if (!isAllowed(origin)) return VARY_ORIGIN;
      return {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        vary: 'Origin',
      };
    },

    /** The answer to any OPTIONS request (a preflight). */
    preflight(origin: string | undefined, requestedHeaders: string | undefined): HttpResponse {
      const headers: Record<string, string> = { vary: 'Origin, Access-Control-Request-Headers' };
      if (isAllowed(origin)) {
        headers['access-control-allow-origin'] = origin;
        headers['access-control-allow-credentials'] = 'true';
        headers['access-control-allow-methods'] = ALLOWED_METHODS;
        headers['access-control-allow-headers'] = requestedHeaders || DEFAULT_ALLOWED_HEADERS;
        headers['access-control-max-age'] = '600';
      }
      return { status: 204, headers, body: '' };
    },
  };
}

export type Cors = ReturnType<typeof createCors>;

/**
 * Exact origins, and patterns for hosted frontends' preview deployments: `https://*.vercel.app`,
 * `https://clinic-*.pages.dev`. In a pattern the scheme and port are exact; the `*` stands for one
 * or more characters of the leftmost DNS label only (letters, digits, hyphens: never a dot, so it
 * cannot reach into another domain), and never for nothing (the bare `vercel.app` is not allowed
 * by `*.vercel.app`). An origin is compared as a browser sends it: lowercase, no trailing dot or
 * slash; anything else (`null`, `HTTPS://X.VERCEL.APP`) is not allowed.
 */
export function createOriginMatcher(entries: readonly string[]) {
  const exact = new Set(entries.filter((e) => !e.includes('*')));
  const patterns = entries
    .filter((e) => e.includes('*'))
    .map((e) => {
      const [prefix, suffix] = e.split('*') as [string, string];
      return new RegExp(`^${escapeRegExp(prefix)}[a-z0-9-]+${escapeRegExp(suffix)}$`);
    });
  return (origin: string | undefined): origin is string =>
    origin !== undefined && (exact.has(origin) || patterns.some((p) => p.test(origin)));
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
