import type { AnyRouter } from '@trpc/server';
import {
  callProcedure,
  createRecursiveProxy,
  getTRPCErrorFromUnknown,
  middlewareMarker,
  type ProcedureCallOptions,
  type ProcedureType,
  TRPCError,
} from '@trpc/server/unstable-core-do-not-import';
import { acceptsJsonText, JsonText } from '../core/json-text.ts';

/** What a middleware returns (tRPC's MiddlewareResult, as far as the call reads it). */
type Result = { ok: true; data: unknown } | { ok: false; error: TRPCError };
/** A middleware; tRPC marks its own input and output validators with `_type`. */
type Middleware = ((opts: Options) => Promise<Result>) & { _type?: string };
type Options = Record<string, unknown> & { ctx: unknown; input?: unknown; getRawInput: () => Promise<unknown> };
interface NextOptions {
  ctx?: Record<string, unknown>;
  input?: unknown;
  getRawInput?: () => Promise<unknown>;
}
interface ProcedureDef {
  type: ProcedureType;
  meta: unknown;
  middlewares: Middleware[];
  caller?: unknown;
  output?: unknown;
}

/** The call options the fast paths pass (tRPC's, less the router it was looked up in). */
export type CallOptions<TContext> = Omit<ProcedureCallOptions<TContext>, 'input'>;

/** A procedure looked up once: call it with the options of one request. */
export type ProcedureCall<TContext> = (opts: CallOptions<TContext>) => Promise<unknown>;

/**
 * A procedure of `router`, looked up once, called the way tRPC 11 calls it (`callProcedure`, then
 * the procedure's own `callRecursive` in @trpc/server's procedureBuilder.ts): each middleware in
 * turn (our boundary, zod's input parse, zod's output parse, the resolver), each given the call's
 * options with `meta`, `input` and `next`; `next()` merges a middleware's `ctx`, `input` or
 * `getRawInput` into the options of the next; a throw anywhere becomes a failed result through
 * `getTRPCErrorFromUnknown`; a failed result is thrown, a chain that returns nothing is an
 * internal error.
 *
 * One difference is the copy. tRPC's TypeScript source copies the options with object spread
 * (`{ ...opts, meta, input, next }`) twice at every middleware level; its published build compiles
 * that spread to a helper (`_objectSpread2`) that defines each key with `Object.defineProperty`.
 * For the four levels of a read that is about 80 property definitions per request, the largest
 * single cost of a read by id inside the framework (docs/performance.md, issue 16). Here each
 * level's options are one object literal with the same keys. tests/unit/procedure-call.test.ts checks this against
 * `callProcedure` on every outcome (an answer, each kind of failure, context and input handed on).
 *
 * The other: a JsonText result of a procedure whose output schema is made by valuesOrJsonText
 * (PostgreSQL's JSON, built from typed columns by SQL derived from the schema's own descriptor; its
 * shape is proven by tests/procedures.test.ts) is not parsed, since the schema's first branch
 * returns it unchanged; tRPC would run that parse and its object spread once more per read.
 *
 * Used by the fast paths (REST reads and writes, single tRPC queries) and by the REST handler's
 * caller (`createCallerFor`); tRPC's own adapter calls procedures itself. A procedure with a
 * caller override, or that is not a `type` procedure, is handed to `callProcedure`.
 */
export function procedureCaller<TContext>(router: AnyRouter, path: string, type: ProcedureType): ProcedureCall<TContext> {
  const procedure = (router._def.procedures as Record<string, { _def: ProcedureDef } | undefined>)[path];
  const def = procedure?._def;
  if (!def || def.type !== type || def.caller) {
    return (opts) => callProcedure({ ...opts, router } as Parameters<typeof callProcedure>[0]);
  }
  const { middlewares, meta } = def;
  // A procedure whose output schema passes PostgreSQL's JSON text as it is (valuesOrJsonText):
  // the output parse of a JsonText result is skipped, since it would return the result unchanged.
  // Only with one output middleware: `def.output` is the last schema given, and a second one must
  // still see every result.
  const textOutput = acceptsJsonText(def.output) && middlewares.filter((m) => m._type === 'output').length === 1;

  /**
   * Level `index` of the chain. The options a middleware gets are written out (tRPC's keys: the
   * call's path, type, signal and batch index, then the context, input, raw input, meta and next),
   * not spread from the previous level's: one object per level, of one shape.
   */
  async function callRecursive(
    index: number,
    call: CallOptions<unknown>,
    ctx: unknown,
    input: unknown,
    getRawInput: () => Promise<unknown>,
  ): Promise<Result> {
    try {
      const middleware = middlewares[index] as Middleware;
      const next = (nextOpts?: NextOptions) =>
        callRecursive(
          index + 1,
          call,
          nextOpts?.ctx ? { ...(ctx as object), ...nextOpts.ctx } : ctx,
          nextOpts && 'input' in nextOpts ? nextOpts.input : input,
          nextOpts?.getRawInput ?? getRawInput,
        );
      const { path, type, signal, batchIndex } = call;
      if (textOutput && middleware._type === 'output') {
        // What tRPC's output middleware does first: the rest of the chain, with the same options.
        const result = await next();
        if (result?.ok && result.data instanceof JsonText) return result;
        // Anything else is parsed by the middleware itself, handed the result it would have got.
        return await middleware({ path, type, signal, batchIndex, ctx, getRawInput, meta, input, next: () => Promise.resolve(result) });
      }
      return await middleware({ path, type, signal, batchIndex, ctx, getRawInput, meta, input, next });
    } catch (cause) {
      return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker } as Result;
    }
  }

  return async (opts) => {
    const result = await callRecursive(0, opts as CallOptions<unknown>, opts.ctx, undefined, opts.getRawInput);
    if (!result) {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'No result from middlewares - did you forget to `return next()`?' });
    }
    if (!result.ok) throw result.error;
    return result.data;
  };
}

/**
 * `router.createCaller` for trpc-to-openapi's REST handler, which makes a caller per request and
 * calls the one procedure the route names through it (`caller.patient.create(input)`). The call
 * is the one tRPC's `createCallerFactory` makes (the procedure's path, the first argument as raw
 * input, the context, the procedure's own type, no signal, batch index 0), its chain run by
 * `procedureCaller`. What the library never passes is left to tRPC's own caller: a context given
 * as a function, caller options (`signal`, `onError`), and a path that names no procedure
 * (NOT_FOUND).
 */
export function createCallerFor<TRouter extends AnyRouter>(router: TRouter): TRouter['createCaller'] {
  const procedures = router._def.procedures as Record<string, { _def: ProcedureDef }>;
  const calls = new Map(
    Object.entries(procedures).map(([path, procedure]) => {
      const { type } = procedure._def;
      return [path, { type, call: procedureCaller<unknown>(router, path, type) }] as const;
    }),
  );
  const createCaller: TRouter['createCaller'] = (ctx, options) => {
    if (typeof ctx === 'function' || options !== undefined) return router.createCaller(ctx, options);
    return createRecursiveProxy(({ path, args }) => {
      const fullPath = path.join('.');
      const known = calls.get(fullPath);
      if (!known) {
        type Node = Record<string, unknown> & ((...a: unknown[]) => Promise<unknown>);
        return path.reduce((node, key) => node[key] as Node, router.createCaller(ctx) as Node)(...args);
      }
      return known.call({ path: fullPath, getRawInput: async () => args[0], ctx, type: known.type, signal: undefined, batchIndex: 0 });
    });
  };
  return createCaller;
}
