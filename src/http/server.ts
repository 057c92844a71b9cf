import uWS from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { createServer as createProbe } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { apiError, INTERNAL } from '../errors.ts';
import { describeError } from '../logger.ts';
import type { Cors } from './cors.ts';
import { clientAddress } from './forwarded.ts';
import type { RouteTemplate } from './route-template.ts';
import {
  createAbortState,
  createRequest,
  errorResponse,
  type Handler,
  type HttpRequest,
  type HttpResponse,
  type HttpStreamResponse,
} from './types.ts';

/** The port could not be bound (taken, or not allowed). */
export class ListenError extends Error {
  override name = 'ListenError';
}

export interface HttpServerOptions {
  handler: Handler;
  cors: Cors;
  logger: Logger;
  /** Largest accepted request body; larger ones get 413 while being read. */
  maxBodyBytes: number;
  /** Maps a path to the template it is logged under. */
  routeTemplate: RouteTemplate;
  /** A request body must arrive within this time (slow-drip clients get 408). */
  requestTimeoutMs: number;
  /** Proxy hops whose X-Forwarded-For/Forwarded name the client in the access log (config.trustProxy). */
  trustProxy: number;
}

export interface HttpServer {
  /**
   * Starts listening on a port of its own (no other process may share it); resolves with the bound
   * port (useful with port 0). Fails with ListenError "port N in use" when it is taken.
   */
  listen(host: string, port: number): Promise<number>;
  /** The app's descriptor, to take connections from a cluster's acceptor instead (see acceptor.ts). */
  descriptor(): unknown;
  /**
   * Stops accepting connections, answers new requests on kept-alive sockets with 503, waits
   * for in-flight requests (at most `graceMs`), then closes every connection.
   * Resolves true when everything finished within the grace period.
   */
  close(graceMs: number): Promise<boolean>;
}

const CLIENT_CLOSED = errorResponse(apiError('CLIENT_CLOSED_REQUEST', 'Client closed request'));
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** `200 OK`, built once per status. */
const STATUS_LINES = new Map<number, string>();
const statusLine = (status: number): string => {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? ''}`;
    if (STATUS_CODES[status] !== undefined) STATUS_LINES.set(status, line);
  }
  return line;
};

/** What the server keeps of a request for its answer and its log line. */
interface RequestMeta extends Pick<HttpRequest, 'method' | 'path' | 'requestId' | 'headers'> {
  peer: string;
  abort: ReturnType<typeof createAbortState>;
}

interface RequestState {
  aborted: boolean;
  /** The body was read and the handler called. */
  dispatched: boolean;
  finished: boolean;
}

/**
 * The only code that talks to uWebSockets.js. It follows uWS's rules: copy everything out of
 * `HttpRequest` synchronously, register `onAborted` before any await, copy `onData` chunks,
 * write inside `cork`, never touch `res` after an abort. Everything below it speaks
 * `HttpRequest`/`HttpResponse`.
 * @see https://github.com/uNetworking/uWebSockets.js/blob/master/examples/AsyncFunction.js
 */
export function createHttpServer({
  handler,
  cors,
  logger,
  maxBodyBytes,
  routeTemplate,
  requestTimeoutMs,
  trustProxy,
}: HttpServerOptions): HttpServer {
  silenceServerHeader();
  const app = uWS.App();
  let listenSocket: uWS.us_listen_socket | null = null;
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | null = null;

  /** Streams being sent: each function ends one (the server is stopping). */
  const streams = new Set<() => void>();

  /**
   * Status and headers, inside a cork: the response's, then the request id and CORS, which win
   * over a response header of the same name (a Vary of both is joined). Written as they are
   * decided: no merged header object per answer.
   */
  const writeHead = (res: uWS.HttpResponse, request: RequestMeta, response: HttpResponse) => {
    const own = response.headers;
    const corsHeaders = request.method === 'OPTIONS' ? NO_HEADERS : cors.responseHeaders(request.headers.origin);
    res.writeStatus(statusLine(response.status));
    for (const name in own) {
      if (name === 'content-length' || name === 'connection' || name === 'x-request-id') continue;
      const corsValue = corsHeaders[name];
      if (corsValue === undefined) res.writeHeader(name, own[name] as string);
      else if (name === 'vary' && own.vary) res.writeHeader(name, `${own.vary}, ${corsValue}`);
    }
    res.writeHeader('x-request-id', request.requestId);
    for (const name in corsHeaders) {
      if (!(name === 'vary' && own.vary)) res.writeHeader(name, corsHeaders[name] as string);
    }
  };

  const logRequest = (request: RequestMeta, state: RequestState, status: number, started: number, extra?: object) => {
    const entry: Record<string, unknown> = {
      reqId: request.requestId,
      client: clientAddress(request.headers, request.peer, trustProxy),
      method: request.method,
      route: routeTemplate(request.path),
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
    if (state.aborted) entry.aborted = true;
    if (extra) Object.assign(entry, extra);
    logger.info(entry, 'request');
  };

  const done = (state: RequestState) => {
    state.finished = true;
    inFlight--;
    if (inFlight === 0 && drained) drained();
  };

  const finish = (
    res: uWS.HttpResponse,
    state: RequestState,
    request: RequestMeta,
    response: HttpResponse,
    started: number,
    closeConnection = false,
  ) => {
    if (state.finished) return;
    if (response.stream) {
      void stream(res, state, request, response, started);
      return;
    }
    done(state);
    if (!state.aborted) {
      res.cork(() => {
        writeHead(res, request, response);
        // end(..., true) makes uWS send `Connection: close` and close the socket after the reply
        // (also asked for by a handler with a `connection: close` header).
        res.end(response.body, closing || closeConnection || response.headers.connection === 'close');
      });
    }
    logRequest(request, state, response.status, started);
  };

  /**
   * Sends a stream: the next chunk is asked for only once uWS took the previous one (its own
   * buffer holds at most one chunk), so a slow client holds back the producer, which decides what
   * to do about it (live/feed.ts disconnects it past a bound). Ends when the producer ends, the
   * client goes away (the request's abort state: the producer watches its signal) or the server
   * stops (the response is ended, then the producer is aborted).
   */
  const stream = async (
    res: uWS.HttpResponse,
    state: RequestState,
    request: RequestMeta,
    response: HttpStreamResponse,
    started: number,
  ) => {
    const iterator = response.stream[Symbol.asyncIterator]();
    let writable: (() => void) | undefined;
    let ended = false;
    const stopped = () => {
      ended = true;
      writable?.();
    };
    request.abort.onAbort(stopped);
    const end = () => {
      if (!state.aborted && !ended) res.cork(() => res.end());
      stopped();
      request.abort.abort();
    };
    streams.add(end);
    let failed = false;
    try {
      if (!state.aborted) res.cork(() => writeHead(res, request, response));
      while (!ended && !state.aborted) {
        const next = await iterator.next();
        if (next.done || ended || state.aborted) break;
        let ok = true;
        res.cork(() => {
          ok = res.write(next.value);
        });
        if (!ok) {
          await new Promise<void>((resolve) => {
            writable = resolve;
            res.onWritable(() => {
              resolve();
              return true;
            });
          });
          writable = undefined;
        }
      }
    } catch (error) {
      failed = true;
      logger.error({ reqId: request.requestId, err: describeError(error) }, 'stream failed');
    } finally {
      streams.delete(end);
      if (!state.aborted && !ended) res.cork(() => (failed ? res.close() : res.end()));
      ended = true;
      await iterator.return?.()?.catch(() => undefined);
      done(state);
      logRequest(request, state, response.status, started, { stream: true });
    }
  };

  app.any('/*', (res, req) => {
    const started = performance.now();
    const headers: Record<string, string> = {};
    req.forEach((name, value) => {
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    });
    // The connection's address, copied now: uWS only answers this synchronously in the handler.
    const peer = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const incomingId = headers['x-request-id'];
    const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    const abort = createAbortState();
    const state: RequestState = { aborted: false, dispatched: false, finished: false };
    const meta: RequestMeta = { method, path, requestId, headers, peer, abort };
    inFlight++;
    res.onAborted(() => {
      state.aborted = true;
      abort.abort();
      // Aborted while the body was still arriving: the handler will never run.
      if (!state.dispatched) finish(res, state, meta, CLIENT_CLOSED, started);
    });

    if (closing) {
      finish(res, state, meta, errorResponse(apiError('SERVICE_UNAVAILABLE', 'Server is shutting down')), started, true);
      return;
    }
    if (method === 'OPTIONS') {
      finish(res, state, meta, cors.preflight(headers.origin, headers['access-control-request-headers']), started);
      return;
    }

    const dispatch = (body: Buffer | undefined) => {
      state.dispatched = true;
      const request = createRequest({ method, path, query, headers, body, requestId }, abort, () => {
        // A stream's producer gave up on a slow client: drop the connection and what uWS buffered.
        if (state.aborted || state.finished) return;
        state.aborted = true;
        res.close();
        abort.abort();
      });
      handler(request).then(
        (response) => finish(res, state, meta, response, started),
        (error: unknown) => {
          // Only the error's class and code: its message could quote patient data.
          logger.error({ reqId: requestId, err: describeError(error) }, 'unhandled error in request handler');
          finish(res, state, meta, errorResponse(INTERNAL), started);
        },
      );
    };

    const hasBody = !BODYLESS.has(method) && (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined);
    if (!hasBody) {
      dispatch(undefined);
      return;
    }
    const declared = Number(headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      finish(res, state, meta, tooLarge(maxBodyBytes), started, true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // A body that trickles in too slowly ties up a connection: cut it off.
    const timer = setTimeout(() => {
      if (!state.dispatched)
        finish(res, state, meta, errorResponse(apiError('TIMEOUT', 'Request body not received in time')), started, true);
    }, requestTimeoutMs);
    timer.unref();
    res.onData((chunk, isLast) => {
      if (state.finished) return;
      size += chunk.byteLength;
      if (size > maxBodyBytes) {
        clearTimeout(timer);
        finish(res, state, meta, tooLarge(maxBodyBytes), started, true);
        return;
      }
      // The ArrayBuffer is only valid during this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) {
        clearTimeout(timer);
        dispatch(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
      }
    });
  });

  return {
    async listen(host, port) {
      listenSocket = await listenExclusively(app, host, port);
      return uWS.us_socket_local_port(listenSocket);
    },

    descriptor: () => app.getDescriptor(),

    async close(graceMs) {
      closing = true;
      // Streams never finish on their own: end them now (clients reconnect, to another instance).
      for (const end of [...streams]) end();
      if (listenSocket) {
        uWS.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
      let timer: NodeJS.Timeout | undefined;
      const finished =
        inFlight === 0 ||
        (await new Promise<boolean>((resolve) => {
          drained = () => resolve(true);
          timer = setTimeout(() => resolve(false), graceMs);
        }));
      clearTimeout(timer);
      drained = null;
      // Kept-alive connections outlive the listen socket: close them too.
      app.close();
      return finished;
    },
  };
}

/**
 * uWS marks every response with a `uWebSockets: 20` header: a server fingerprint for nobody's
 * benefit. `_cfg('silent')` turns the mark off for this thread's event loop.
 */
export function silenceServerHeader() {
  uWS._cfg('silent');
}

/**
 * Listens without SO_REUSEPORT (uWS's default would let a second process bind the same port and
 * take half of the connections): the port is this process' alone. Worker threads of the process
 * get connections through the acceptor (acceptor.ts), not by binding the port themselves.
 */
export function listenExclusively(app: uWS.TemplatedApp, host: string, port: number): Promise<uWS.us_listen_socket> {
  const listen = app.listen as unknown as (
    host: string,
    port: number,
    options: number,
    cb: (token: uWS.us_listen_socket | false) => void,
  ) => void;
  return new Promise((resolve, reject) => {
    listen.call(app, host, port, uWS.LIBUS_LISTEN_EXCLUSIVE_PORT, (token) => {
      if (token) resolve(token);
      else void whyNotListening(host, port).then((reason) => reject(new ListenError(reason)));
    });
  });
}

/** uWS only says "no": a plain bind of the same address tells why. */
async function whyNotListening(host: string, port: number): Promise<string> {
  const code = await new Promise<string | undefined>((resolve) => {
    const probe = createProbe();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (code === 'EADDRINUSE') return `port ${port} in use (HOST ${host}): another process is listening on it. Stop it, or set another PORT.`;
  if (code === 'EACCES') return `not allowed to listen on ${host}:${port} (PORT below 1024 needs privileges).`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `cannot listen on ${host}:${port}: HOST is not an address of this machine.`;
  return `cannot listen on ${host}:${port}${code ? ` (${code})` : ''}.`;
}

function tooLarge(limit: number): HttpResponse {
  return errorResponse(apiError('PAYLOAD_TOO_LARGE', `Request body exceeds the limit of ${limit} bytes`));
}
