import { createAbortState, createRequest, type Handler, type HttpRequest, type HttpResponse } from './types.ts';

/**
 * Identical concurrent reads share one execution ("request coalescing").
 *
 * A GET joins a *pending* execution for the same key: one that has not started yet, because an
 * execution for that key is still running. It never joins one that has already started, so
 * every response reflects the database at some moment after its own request arrived: a read sent
 * after a write was acknowledged always sees that write, exactly as without coalescing.
 *
 * Under low load nothing waits (a GET with none of its key running runs at once, as it is).
 * Under load, the requests that arrive while one execution runs are answered together by the
 * next, so 50 clients polling the same list cost about one query per round trip instead of 50.
 *
 * The key holds everything a response may depend on: path, query, Host (json-server's Link
 * header is built from it), the Authorization header as sent (clients with different
 * credentials never share), and the headers tRPC reads on a GET. Nothing is kept after the
 * execution ends: this is not a cache.
 */
export interface CoalescingHandler extends Handler {
  /** Executions started and requests answered since creation (for tests and diagnostics). */
  stats(): { executions: number; requests: number };
}

/**
 * Headers, besides Host and Authorization, that can change a GET's response: tRPC reads the
 * first five; behind a trusted proxy (TRUST_PROXY) the last three decide the scheme and host of
 * the Link header and the OpenAPI `servers` (http/forwarded.ts).
 */
const KEY_HEADERS = [
  'content-type',
  'trpc-accept',
  'trpc-batch-mode',
  'accept',
  'connection-params',
  'forwarded',
  'x-forwarded-proto',
  'x-forwarded-host',
] as const;

interface Execution {
  request: HttpRequest;
  response: Promise<HttpResponse>;
  start: () => void;
  /**
   * Requests still waiting. When the last one goes away, an execution that has not started is
   * dropped (never run), a running one is aborted.
   */
  waiting: number;
  abort: () => void;
  state: 'pending' | 'running' | 'dropped';
  /** The requests it answers (final once it starts: nothing joins a running execution). */
  requestIds: string[];
}

/** The answer nobody will read: every request of a dropped execution has gone. */
const ABANDONED: HttpResponse = { status: 499, headers: {}, body: '' };

export interface CoalescingOptions {
  /**
   * Requests that may open a stream (live updates): never shared, each subscriber has its own. It
   * must not miss one however its path is spelled (a shared stream would go to one client only).
   */
  isStream?: (request: HttpRequest) => boolean;
}

export function createCoalescingHandler(handler: Handler, { isStream = () => false }: CoalescingOptions = {}): CoalescingHandler {
  const running = new Map<string, Promise<unknown>>();
  const pending = new Map<string, Execution>();
  let executions = 0;
  let requests = 0;

  /** Runs `request` as the key's execution: counted, and the key's running one until it settles. */
  const run = (key: string, request: HttpRequest): Promise<HttpResponse> => {
    executions++;
    const answer = handler(request);
    const done = answer.then(noop, noop).then(() => {
      if (running.get(key) === done) running.delete(key);
    });
    running.set(key, done);
    return answer;
  };

  const newExecution = (key: string, request: HttpRequest): Execution => {
    const abort = createAbortState();
    let start!: () => void;
    const started = new Promise<void>((resolve) => {
      start = resolve;
    });
    const response = started.then(() => {
      if (execution.state === 'dropped') return ABANDONED;
      execution.state = 'running';
      if (pending.get(key) === execution) pending.delete(key);
      // The fields one by one: spreading the request would read its lazy `signal` (an
      // AbortController per request).
      const { method, path, query, headers, body, requestId } = request;
      const shared = createRequest({ method, path, query, headers, body, requestId, requestIds: execution.requestIds }, abort);
      return run(key, shared).then((answer) => encodeOnce(answer, execution.waiting));
    });
    const execution: Execution = { request, response, start, waiting: 0, abort: () => abort.abort(), state: 'pending', requestIds: [] };
    return execution;
  };

  const coalescing = (request: HttpRequest): Promise<HttpResponse> => {
    if (request.method !== 'GET' || isStream(request)) return handler(request);
    requests++;
    const key = keyOf(request);
    let execution = pending.get(key);
    if (!execution) {
      const current = running.get(key);
      // Nothing of this key is running: nothing to wait for and nobody to share with yet, so the
      // request runs as it is (the common case of reads no two clients share). Its own abort state
      // stops the work when it goes away; requests of the same key that arrive meanwhile gather
      // in a pending execution, which starts when this one ends.
      if (!current) return run(key, request);
      execution = newExecution(key, request);
      pending.set(key, execution);
      void current.then(execution.start);
    }
    const joined = execution;
    joined.waiting++;
    joined.requestIds.push(request.requestId);
    request.onAbort(() => {
      if (--joined.waiting > 0) return;
      if (joined.state === 'pending') {
        joined.state = 'dropped';
        if (pending.get(key) === joined) pending.delete(key);
      } else joined.abort();
    });
    return joined.response;
  };

  return Object.assign(coalescing, { stats: () => ({ executions, requests }) });
}

/**
 * A text body going to several clients is encoded to UTF-8 once here, instead of once per client
 * when it is written to each socket (a 1.5 MB list for 256 clients was 384 MB of encoding).
 */
function encodeOnce(response: HttpResponse, clients: number): HttpResponse {
  return clients > 1 && typeof response.body === 'string' ? { ...response, body: Buffer.from(response.body, 'utf8') } : response;
}

function keyOf(request: HttpRequest): string {
  const { headers } = request;
  let key = `${request.path}?${request.query}\n${headers.host ?? ''}\n${headers.authorization ?? ''}`;
  for (const name of KEY_HEADERS) key += `\n${headers[name] ?? ''}`;
  return key;
}

function noop() {}
