/**
 * procedureCaller (src/api/procedure-call.ts) calls a procedure as tRPC's own `callProcedure`
 * does: every case here is run both ways on the same router and must end the same (the same data,
 * or an error of the same class, code, message and cause), and the middlewares must see the same
 * options. The fast paths' byte-for-byte tests (rest-fast-path, trpc-fast-path) do the same on the
 * application's own procedures.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import { callProcedure } from '@trpc/server/unstable-core-do-not-import';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCallerFor, procedureCaller } from '../../src/api/procedure-call.ts';
import { JsonText, valuesOrJsonText } from '../../src/core/json-text.ts';

interface Ctx {
  user: string;
  seen: Record<string, unknown>[];
}
const t = initTRPC.context<Ctx>().meta<{ tag: string }>().create({ isDev: false });

/** What a middleware was handed, without the functions and the per-call objects. */
const observe = t.middleware(async (opts) => {
  const { ctx, next, getRawInput, signal, router: _router, ...rest } = opts as typeof opts & { router?: unknown };
  ctx.seen.push({ ...rest, user: ctx.user, keys: Object.keys(opts).sort(), signal, rawInput: await getRawInput() });
  return next();
});

const base = t.procedure.meta({ tag: 'base' }).use(observe);
const router = t.router({
  ok: base
    .input(z.object({ id: z.number(), extra: z.string().default('d') }))
    .output(z.object({ id: z.number(), user: z.string(), extra: z.string() }))
    .query(({ ctx, input }) => ({ id: input.id, user: ctx.user, extra: input.extra })),
  none: base.query(() => 'no input'),
  badOutput: base.output(z.object({ id: z.number() })).query(() => ({ id: 'not a number' }) as unknown as { id: number }),
  throwsTrpc: base.query(() => {
    throw new TRPCError({ code: 'CONFLICT', message: 'taken', cause: new Error('inner') });
  }),
  throwsError: base.query(() => {
    throw new RangeError('plain failure');
  }),
  throwsString: base.query(() => {
    throw 'a string';
  }),
  middlewareThrows: t.procedure
    .use(() => {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'no' });
    })
    .query(() => 'never'),
  noResult: t.procedure.use((async () => undefined) as unknown as Parameters<typeof t.procedure.use>[0]).query(() => 'never'),
  widensContext: t.procedure
    .use(({ next }) => next({ ctx: { user: 'replaced', role: 'admin' } }))
    .use(observe)
    .query(({ ctx }) => ({ user: ctx.user, role: ctx.role })),
  replacesInput: t.procedure
    .use(({ next }) => next({ input: { id: 7 } }))
    .use(observe)
    .query(({ input }) => input),
  changesResult: t.procedure
    .use(async ({ next }) => {
      const result = await next();
      return result.ok ? { ...result, data: { wrapped: result.data } } : result;
    })
    .query(() => 'inner'),
  replacesRawInput: t.procedure
    .use(({ next }) => next({ getRawInput: async () => ({ id: 9 }) }))
    .use(observe)
    .input(z.object({ id: z.number() }))
    .query(({ input }) => input),
  stream: base.subscription(async function* () {
    yield 1;
    yield 2;
  }),
  overridden: t.procedure
    .experimental_caller(async ({ args, invoke }) => `caller: ${String(await invoke(args[0] as Parameters<typeof invoke>[0]))}`)
    .query(() => 'resolved') as unknown as ReturnType<typeof base.query>,
  write: base.mutation(() => 'written'),
  // A JsonText for an ordinary output schema: its parse fails, as ever.
  textForPlainSchema: base.output(z.object({ id: z.number() })).query(() => new JsonText('{"id":1}', {}) as unknown as { id: number }),
  // An output that may be PostgreSQL's JSON text: a JsonText passes unparsed, anything else is parsed.
  textOrValue: base
    .input(z.object({ as: z.enum(['text', 'value', 'bad']) }))
    .output(valuesOrJsonText(z.object({ id: z.number() }).transform((v) => ({ ...v, parsed: true }))))
    .query(({ input }) => {
      if (input.as === 'text') return new JsonText('{"id":1}', { n: 1 }) as unknown as { id: number };
      return (input.as === 'value' ? { id: 2 } : { id: 'x' }) as { id: number };
    }),
  nested: t.router({ deeper: base.input(z.object({ n: z.number() })).mutation(({ input }) => input.n * 2) }),
});

type Outcome = { data: unknown; seen: unknown[] } | { error: Record<string, unknown>; seen: unknown[] };

async function run(
  via: 'tRPC' | 'ours',
  path: string,
  rawInput: unknown,
  type: 'query' | 'mutation' | 'subscription' = 'query',
): Promise<Outcome> {
  const ctx: Ctx = { user: 'ana', seen: [] };
  const opts = { path, getRawInput: () => Promise.resolve(rawInput), ctx, type, signal: undefined, batchIndex: 0 };
  try {
    const data = via === 'tRPC' ? await callProcedure({ ...opts, router }) : await procedureCaller<Ctx>(router, path, type)(opts);
    // A subscription's answer is its stream: compared by what it yields.
    if (type === 'subscription') {
      const yielded: unknown[] = [];
      for await (const value of data as AsyncIterable<unknown>) yielded.push(value);
      return { data: yielded, seen: ctx.seen };
    }
    return { data, seen: ctx.seen };
  } catch (error) {
    return failure(error, ctx.seen);
  }
}

/** A failed call as compared: the error's class, code, message and cause. */
function failure(error: unknown, seen: unknown[]): Outcome {
  const e = error as TRPCError;
  const cause = e.cause ? `${e.cause.constructor.name}: ${e.cause.message}` : undefined;
  return { error: { class: e.constructor.name, code: e.code, message: e.message, cause }, seen };
}

/** Runs a case both ways; returns tRPC's outcome (ours must equal it). */
async function same(path: string, rawInput?: unknown, type: 'query' | 'mutation' | 'subscription' = 'query') {
  const theirs = await run('tRPC', path, rawInput, type);
  const ours = await run('ours', path, rawInput, type);
  // callProcedure hands the middlewares its router too; nothing reads it (it is not in their type).
  const withoutRouter = (o: Outcome) => ({
    ...o,
    seen: o.seen.map((s) => {
      const seen = s as Record<string, unknown>;
      return { ...seen, keys: (seen.keys as string[]).filter((k) => k !== 'router') };
    }),
  });
  expect(withoutRouter(ours)).toStrictEqual(withoutRouter(theirs));
  return theirs;
}

describe('procedureCaller ends every call as callProcedure does', () => {
  it('an answer: parsed input (with its default), the context, the output parse', async () => {
    const outcome = await same('ok', { id: 1 });
    expect(outcome).toMatchObject({ data: { id: 1, user: 'ana', extra: 'd' } });
    // The middleware saw the call's options with meta, input and next, as tRPC gives them.
    expect(outcome.seen).toStrictEqual([
      {
        batchIndex: 0,
        input: undefined,
        meta: { tag: 'base' },
        path: 'ok',
        type: 'query',
        user: 'ana',
        keys: ['batchIndex', 'ctx', 'getRawInput', 'input', 'meta', 'next', 'path', 'router', 'signal', 'type'],
        signal: undefined,
        rawInput: { id: 1 },
      },
    ]);
  });

  it('a procedure without input', async () => {
    expect(await same('none')).toMatchObject({ data: 'no input' });
  });

  it('input that fails its schema: BAD_REQUEST caused by the zod error, resolver not run', async () => {
    expect(await same('ok', { id: 'x' })).toMatchObject({
      error: { class: 'TRPCError', code: 'BAD_REQUEST', cause: expect.stringContaining('ZodError') },
    });
  });

  it('output that fails its schema: INTERNAL_SERVER_ERROR "Output validation failed"', async () => {
    expect(await same('badOutput')).toMatchObject({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed' } });
  });

  it('a TRPCError from the resolver, as it was thrown (code, message, cause)', async () => {
    expect(await same('throwsTrpc')).toMatchObject({ error: { code: 'CONFLICT', message: 'taken', cause: 'Error: inner' } });
  });

  it('a plain error and a thrown string become internal errors the same way', async () => {
    expect(await same('throwsError')).toMatchObject({ error: { code: 'INTERNAL_SERVER_ERROR', cause: 'RangeError: plain failure' } });
    expect(await same('throwsString')).toMatchObject({ error: { code: 'INTERNAL_SERVER_ERROR' } });
  });

  it('a middleware that throws before next()', async () => {
    expect(await same('middlewareThrows')).toMatchObject({ error: { code: 'UNAUTHORIZED', message: 'no' } });
  });

  it('a middleware that returns nothing', async () => {
    expect(await same('noResult')).toMatchObject({
      error: { code: 'INTERNAL_SERVER_ERROR', message: expect.stringContaining('No result') },
    });
  });

  it('next({ ctx }) merges into the context; next({ input }) replaces the input', async () => {
    expect(await same('widensContext')).toMatchObject({ data: { user: 'replaced', role: 'admin' } });
    const replaced = await same('replacesInput', { id: 1 });
    expect(replaced).toMatchObject({ data: { id: 7 }, seen: [{ input: { id: 7 }, rawInput: { id: 1 } }] });
  });

  it('next({ getRawInput }) replaces what the input parser reads', async () => {
    expect(await same('replacesRawInput', { id: 1 })).toMatchObject({ data: { id: 9 }, seen: [{ rawInput: { id: 9 } }] });
  });

  it('a subscription: the same stream', async () => {
    expect(await same('stream', undefined, 'subscription')).toMatchObject({ data: [1, 2] });
  });

  it('a procedure with a caller override is left to callProcedure (the override runs)', async () => {
    expect(await same('overridden')).toMatchObject({ data: 'caller: resolved' });
  });

  it('an output schema that takes JSON text: a JsonText as it is, any other value parsed (and failing) as by tRPC', async () => {
    const text = await same('textOrValue', { as: 'text' });
    expect((text as { data: unknown }).data).toBeInstanceOf(JsonText);
    expect(text).toMatchObject({ data: { text: '{"id":1}', meta: { n: 1 } } });
    expect(await same('textOrValue', { as: 'value' })).toMatchObject({ data: { id: 2, parsed: true } });
    expect(await same('textOrValue', { as: 'bad' })).toMatchObject({
      error: { code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed' },
    });
    // Only a schema made by valuesOrJsonText lets a JsonText through.
    expect(await same('textForPlainSchema')).toMatchObject({
      error: { code: 'INTERNAL_SERVER_ERROR', message: 'Output validation failed' },
    });
  });

  it("a middleware's change to the result", async () => {
    expect(await same('changesResult')).toMatchObject({ data: { wrapped: 'inner' } });
  });

  it('a missing procedure or one of another type is left to callProcedure (NOT_FOUND)', async () => {
    expect(await same('missing')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await same('write')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await same('write', undefined, 'mutation')).toMatchObject({ data: 'written' });
  });
});

describe("createCallerFor calls as tRPC's createCaller does (trpc-to-openapi calls every REST route through it)", () => {
  async function viaCaller(make: 'tRPC' | 'ours', path: string, input?: unknown): Promise<Outcome> {
    const ctx: Ctx = { user: 'ana', seen: [] };
    const caller = make === 'tRPC' ? t.createCallerFactory(router)(ctx) : createCallerFor(router)(ctx);
    try {
      const fn = path.split('.').reduce((node, key) => (node as Record<string, unknown>)[key], caller as unknown) as (
        i: unknown,
      ) => Promise<unknown>;
      return { data: await fn(input), seen: ctx.seen };
    } catch (error) {
      return failure(error, ctx.seen);
    }
  }
  const cases: [string, unknown][] = [
    ['ok', { id: 3 }],
    ['ok', { id: 'x' }],
    ['badOutput', undefined],
    ['textOrValue', { as: 'text' }],
    ['textOrValue', { as: 'bad' }],
    ['throwsTrpc', undefined],
    ['widensContext', undefined],
    ['write', undefined],
    ['nested.deeper', { n: 21 }],
    ['nested.missing', {}],
    ['missing', {}],
  ];
  it.each(cases)('%s %j', async (path, input) => {
    const theirs = await viaCaller('tRPC', path, input);
    expect(await viaCaller('ours', path, input)).toStrictEqual(theirs);
    if (path === 'nested.deeper') expect(theirs).toMatchObject({ data: 42 });
    if (path.endsWith('missing')) expect(theirs).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it("a context given as a function, or caller options, go to tRPC's own caller", async () => {
    const ctx: Ctx = { user: 'fn', seen: [] };
    const errors: string[] = [];
    const ours = createCallerFor(router);
    expect(await ours(() => ctx).ok({ id: 5 })).toStrictEqual({ id: 5, user: 'fn', extra: 'd' });
    await expect(ours(ctx, { onError: ({ error }) => errors.push(error.code) }).throwsTrpc()).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(errors).toEqual(['CONFLICT']);
  });
});
