/**
 * Request coalescing: identical concurrent GETs share one execution, and a response never comes
 * from an execution that started before its request arrived (reads after a write see it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoalescingHandler } from '../src/http/coalesce.ts';
import { createAbortState, type HttpRequest, type HttpResponse, json } from '../src/http/types.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';

let seq = 0;
function request(overrides: Partial<Pick<HttpRequest, 'method' | 'path' | 'query' | 'headers'>> = {}) {
  const abort = createAbortState();
  const req: HttpRequest = {
    method: 'GET',
    path: '/patients',
    query: '',
    headers: { host: 'h' },
    body: undefined,
    requestId: `r${seq++}`,
    get signal() {
      return abort.signal;
    },
    onAbort: (listener) => abort.onAbort(listener),
    disconnect: () => undefined,
    ...overrides,
  };
  return { req, abort: () => abort.abort() };
}

/** An inner handler whose executions finish only when the test says so. */
function controllable() {
  const calls: { req: HttpRequest; finish: (body: string) => void }[] = [];
  const handler = (req: HttpRequest) =>
    new Promise<HttpResponse>((resolve) => {
      calls.push({ req, finish: (body) => resolve(json(200, body)) });
    });
  return { handler, calls };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A coalescing handler with one execution already running (the `blocker`). */
async function busy() {
  const inner = controllable();
  const handler = createCoalescingHandler(inner.handler);
  const blocker = handler(request().req);
  await tick();
  return { inner, handler, blocker };
}

describe('coalescing handler', () => {
  it('runs at once when idle; requests arriving during a run share the next run, never the current one', async () => {
    const inner = controllable();
    const handler = createCoalescingHandler(inner.handler);
    const first = handler(request().req);
    await tick();
    expect(inner.calls).toHaveLength(1);

    // Arrive while the first execution runs: they must not get its (possibly stale) result.
    const later = Array.from({ length: 5 }, () => handler(request().req));
    await tick();
    expect(inner.calls).toHaveLength(1);

    inner.calls[0]!.finish('v1');
    expect(JSON.parse(String((await first).body))).toBe('v1');
    await tick();
    expect(inner.calls).toHaveLength(2);
    inner.calls[1]!.finish('v2');
    const shared = await Promise.all(later);
    for (const response of shared) expect(JSON.parse(String(response.body))).toBe('v2');
    expect(handler.stats()).toEqual({ executions: 2, requests: 6 });
    // A body for several clients is encoded to UTF-8 once and the same bytes go to each of them;
    // one client alone gets the text as the handler made it.
    expect(shared[0]!.body).toBeInstanceOf(Uint8Array);
    expect(new Set(shared.map((r) => r.body)).size).toBe(1);
    expect(typeof (await first).body).toBe('string');
  });

  it('never shares a request that may open a stream: each runs on its own, even while an identical one runs', async () => {
    const inner = controllable();
    const handler = createCoalescingHandler(inner.handler, { isStream: (req) => req.path === '/patients/events' });
    const streams = Array.from({ length: 3 }, () => handler(request({ path: '/patients/events' }).req));
    await tick();
    expect(inner.calls).toHaveLength(3);
    for (const [i, call] of inner.calls.entries()) call.finish(`s${i}`);
    expect((await Promise.all(streams)).map((r) => JSON.parse(String(r.body)))).toEqual(['s0', 's1', 's2']);
    expect(handler.stats().requests).toBe(0);
  });

  it('keeps requests that differ in path, query, Host, Authorization or tRPC headers apart', async () => {
    const inner = controllable();
    const handler = createCoalescingHandler(inner.handler);
    const variants = [
      request(),
      request({ path: '/patients/1' }),
      request({ query: 'age=1' }),
      request({ headers: { host: 'other' } }),
      request({ headers: { host: 'h', authorization: 'Bearer a' } }),
      request({ headers: { host: 'h', authorization: 'Bearer b' } }),
      request({ headers: { host: 'h', 'trpc-accept': 'application/jsonl' } }),
    ];
    const responses = variants.map(({ req }) => handler(req));
    await tick();
    expect(inner.calls).toHaveLength(variants.length);
    for (const [i, call] of inner.calls.entries()) call.finish(`r${i}`);
    expect((await Promise.all(responses)).map((r) => JSON.parse(String(r.body)))).toEqual(variants.map((_, i) => `r${i}`));
  });

  it('never coalesces writes', async () => {
    const inner = controllable();
    const handler = createCoalescingHandler(inner.handler);
    const writes = ['POST', 'PATCH', 'PUT', 'DELETE'].map((method) => handler(request({ method }).req));
    await tick();
    expect(inner.calls).toHaveLength(4);
    for (const call of inner.calls) call.finish('ok');
    await Promise.all(writes);
    expect(handler.stats().requests).toBe(0);
  });

  it('a GET with nothing of its kind running runs as it is: the handler gets that request, whose client leaving stops the work', async () => {
    const inner = controllable();
    const handler = createCoalescingHandler(inner.handler);
    const lone = request();
    const answer = handler(lone.req);
    expect(inner.calls).toHaveLength(1);
    expect(inner.calls[0]!.req).toBe(lone.req);
    // An identical GET meanwhile waits for it to end, then runs (alone in its own execution).
    const next = handler(request().req);
    expect(inner.calls).toHaveLength(1);
    lone.abort();
    expect(inner.calls[0]!.req.signal.aborted).toBe(true);
    inner.calls[0]!.finish('stopped');
    await answer;
    await tick();
    expect(inner.calls).toHaveLength(2);
    expect(inner.calls[1]!.req).not.toBe(lone.req);
    expect(inner.calls[1]!.req.signal.aborted).toBe(false);
    inner.calls[1]!.finish('fresh');
    expect(JSON.parse(String((await next).body))).toBe('fresh');
    expect(handler.stats()).toEqual({ executions: 2, requests: 2 });
  });

  it('aborts a shared execution only when every request waiting for it is gone', async () => {
    const { inner, handler, blocker } = await busy();
    const a = request();
    const b = request();
    const shared = [handler(a.req), handler(b.req)];
    await tick();
    inner.calls[0]!.finish('first');
    await blocker;
    await tick();
    const execution = inner.calls[1]!.req;
    a.abort();
    expect(execution.signal.aborted).toBe(false);
    b.abort();
    expect(execution.signal.aborted).toBe(true);
    inner.calls[1]!.finish('done');
    await Promise.all(shared);
  });

  it('drops a queued execution whose requests all went away before it started; the next one runs fresh', async () => {
    const { inner, handler, blocker } = await busy();
    const gone = request();
    const abandoned = handler(gone.req);
    gone.abort();
    const later = handler(request().req);
    inner.calls[0]!.finish('first');
    await blocker;
    expect((await abandoned).status).toBe(499);
    await tick();
    expect(inner.calls).toHaveLength(2);
    inner.calls[1]!.finish('fresh');
    expect(JSON.parse(String((await later).body))).toBe('fresh');
    expect(handler.stats().executions).toBe(2);
  });
});

describe('coalescing in the running service', () => {
  let t: TestApp;
  beforeAll(async () => {
    // On explicitly: the test helpers turn coalescing off by default.
    t = await startTestApp({ COALESCE_READS: 'true' });
  });
  afterAll(() => t?.stop());

  it('answers many identical concurrent GETs with the same body and each its own request id', async () => {
    await postJson(t.baseUrl, '/patients', samplePatient({ patientID: 'CO-1' }));
    const responses = await Promise.all(Array.from({ length: 40 }, () => fetch(`${t.baseUrl}/patients?_sort=id`)));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]!)).toContainEqual(expect.objectContaining({ patientID: 'CO-1' }));
    expect(new Set(responses.map((r) => r.headers.get('x-request-id'))).size).toBe(40);
    expect(responses.every((r) => r.headers.get('cache-control') === 'no-store')).toBe(true);
  });

  it('a read sent after a write was acknowledged sees it, while identical reads keep arriving', async () => {
    let polling = true;
    const pollers = Array.from({ length: 8 }, async () => {
      while (polling) await (await fetch(`${t.baseUrl}/patients`)).arrayBuffer();
    });
    try {
      for (let i = 0; i < 15; i++) {
        const created = await postJson(t.baseUrl, '/patients', samplePatient({ patientID: `RYW-${i}` }));
        expect(created.status).toBe(201);
        const list = (await (await fetch(`${t.baseUrl}/patients`)).json()) as { patientID: string }[];
        expect(list.map((p) => p.patientID)).toContain(`RYW-${i}`);
        const { id } = (await created.json()) as { id: number };
        const patched = await fetch(`${t.baseUrl}/patients/${id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ age: 70 }),
        });
        expect(patched.status).toBe(200);
        const one = (await (await fetch(`${t.baseUrl}/patients/${id}`)).json()) as { age: number };
        expect(one.age).toBe(70);
      }
    } finally {
      polling = false;
      await Promise.all(pollers);
    }
  });
});
