import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { MISSING_TOKEN_MESSAGE, toApiError } from '../errors.ts';
import type { Context } from './context.ts';

/** What the REST adapter needs to know about a request to build a procedure's REST headers. */
export interface RestRequest {
  /** Path and query string as sent. */
  url: string;
  /** The host and scheme the client used: its Host header and `http`, or behind a trusted proxy what it forwarded. */
  host: string | undefined;
  proto: 'http' | 'https';
}

/** REST-only response details that a procedure's meta can ask for (applied by http/rest.ts). */
export interface RestMeta {
  /** Status for a successful REST response (default 200). */
  successStatus?: number;
  /** Status computed from the result (wins over successStatus). */
  status?: (result: unknown) => number | undefined;
  /** Response headers computed from the result and the request (Location, X-Total-Count...). */
  headers?: (result: unknown, request: RestRequest) => Record<string, string>;
  /** Keys of the result left out of the REST body (sent as headers instead: `version` as the ETag). */
  omit?: readonly string[];
}

export type Meta = OpenApiMeta & { rest?: RestMeta };

/**
 * The single tRPC instance. `isDev: false` keeps stack traces out of error bodies under every
 * NODE_ENV; the formatter answers from the error table (src/errors.ts), like every surface.
 * @see https://trpc.io/docs/server/error-formatting
 */
const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    isDev: false,
    // Subscriptions (Server-Sent Events): a ping comment every 5 s keeps proxies and the client
    // from timing the stream out; a client that hears nothing for 15 s reconnects (and resumes).
    sse: { ping: { enabled: true, intervalMs: 5_000 }, client: { reconnectAfterInactivityMs: 15_000 } },
    errorFormatter({ shape, error }) {
      const api = toApiError(error);
      return {
        code: shape.code,
        message: api.message,
        data: {
          code: shape.data.code,
          httpStatus: api.status,
          path: shape.data.path,
          ...(api.issues ? { issues: api.issues } : {}),
        },
      };
    },
  });

/**
 * Every procedure's failure gets its code from the error table here (so tRPC's HTTP status is the
 * table's); `authorized` procedures first check that the request may see patient data (a valid
 * bearer token when API_TOKENS is set), before the input is even parsed. One middleware per kind:
 * tRPC copies its options object at every level of the chain.
 */
const boundary = (authorize: boolean) =>
  t.middleware(async ({ ctx, next }) => {
    if (authorize && !ctx.authorized) throw new TRPCError({ code: 'UNAUTHORIZED', message: MISSING_TOKEN_MESSAGE });
    const result = await next();
    if (result.ok) return result;
    const { error } = result;
    const api = toApiError(error);
    if (api.code === error.code) throw error;
    throw new TRPCError({ code: api.code, message: api.message, cause: error.cause ?? error });
  });

export const router = t.router;
export const publicProcedure = t.procedure.use(boundary(false));
/** Patient data: needs a valid bearer token when API_TOKENS is set. */
export const protectedProcedure = t.procedure.use(boundary(true));
/** In-process calls (tests, scripts): `createCaller(appRouter)(context)`. */
export const createCaller = t.createCallerFactory;
