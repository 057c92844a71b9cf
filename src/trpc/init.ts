import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { DriverException } from '@mikro-orm/core';
import { BadRequestError, toApiError } from '../errors.ts';
import type { Context } from './context.ts';

/** REST-only response details that a procedure's meta can ask for. */
export interface RestMeta {
  /** Status for a successful REST response (default 200). */
  successStatus?: number;
  /** Status computed from the result (wins over successStatus). */
  status?: (result: unknown) => number | undefined;
}

export type Meta = OpenApiMeta & { rest?: RestMeta };

/**
 * The single tRPC instance. `isDev: false` keeps stack traces out of error bodies under every
 * NODE_ENV; the formatter keeps only what a client needs and never an internal message.
 * @see https://trpc.io/docs/server/error-formatting
 */
const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    isDev: false,
    errorFormatter({ shape, error }) {
      const zodIssues = error.code === 'BAD_REQUEST' && isZodError(error.cause) ? error.cause.issues : undefined;
      return {
        code: shape.code,
        message: safeMessage(error, shape.message),
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          ...(zodIssues ? { issues: zodIssues } : {}),
        },
      };
    },
  });

/**
 * The message a client may see. Ours are written for clients; a message that comes from a
 * JavaScript error deep in a library (`Cannot destructure property...`) or from an internal
 * failure is replaced by a fixed one.
 */
function safeMessage(error: TRPCError, message: string): string {
  if (error.code === 'INTERNAL_SERVER_ERROR') return 'Internal server error';
  const cause = error.cause;
  if (isZodError(cause)) return 'Input validation failed';
  if (error.code !== 'BAD_REQUEST' && error.code !== 'PARSE_ERROR') return message;
  if (cause instanceof SyntaxError) return 'Failed to parse request body';
  if (cause instanceof Error && !(cause instanceof TRPCError) && !(cause instanceof BadRequestError) && !(cause instanceof DriverException)) {
    return 'Invalid request';
  }
  return message;
}

function isZodError(e: unknown): e is Error & { issues: unknown[] } {
  return e instanceof Error && e.name === 'ZodError' && Array.isArray((e as { issues?: unknown }).issues);
}

/** Every procedure goes through the error boundary: ORM/driver failures become API errors here. */
const errorBoundary = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toApiError(result.error);
  return result;
});

/**
 * The same boundary, first checking that the request may see patient data (a valid bearer token
 * when API_TOKENS is set), before the input is even parsed. One middleware instead of two: tRPC
 * copies its options object at every level of the chain.
 */
const authorizedBoundary = t.middleware(async ({ ctx, next }) => {
  if (!ctx.authorized) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Missing or invalid bearer token' });
  const result = await next();
  if (!result.ok) throw toApiError(result.error);
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(errorBoundary);
/** Patient data: needs a valid bearer token when API_TOKENS is set. */
export const protectedProcedure = t.procedure.use(authorizedBoundary);
export const createCallerFactory = t.createCallerFactory;
