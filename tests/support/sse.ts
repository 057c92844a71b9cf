import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** One `id:` + `data:` frame of an event stream. */
export interface SseEvent {
  id: number;
  /** When it was parsed (performance.now() of this process). */
  at: number;
  data: { eventId: number; op: string; id: number; patient?: { patientID: string } & Record<string, unknown> };
}

export interface SseOptions {
  path?: string;
  /** Sent as the `Last-Event-ID` header (resume after it). */
  lastEventId?: number;
  headers?: Record<string, string>;
  /** Never read from the socket (a client that stalls): nothing is parsed, the kernel buffers fill up. */
  paused?: boolean;
}

/**
 * A Server-Sent Events client on a raw TCP socket (node:net): it sees exactly what the server
 * sends, including how the stream ends — `ended` (the chunked body's terminating chunk, a clean
 * end) as opposed to the socket merely closing (`closed`, e.g. a slow consumer being dropped).
 */
export interface SseClient {
  socket: Socket;
  /** Status line's code, once the head arrived (0 before). */
  status(): number;
  /** Lower-cased response headers, once the head arrived. */
  headers(): Record<string, string>;
  events: SseEvent[];
  /** Comments (`: ping`, `: connected`) seen so far. */
  comments: string[];
  /** True once the terminating chunk (`0\r\n\r\n`) arrived. */
  ended(): boolean;
  /** Resolves once the socket is closed (either side), with whether the body had ended cleanly. */
  closed: Promise<{ clean: boolean }>;
  /** Resolves once the stream said it is connected (`: connected`, or tRPC's `event: connected`). */
  connected: Promise<void>;
  /** Start reading a paused client. */
  resume(): void;
  destroy(): void;
}

export function openSse(
  port: number,
  { path = '/patients/events', lastEventId, headers = {}, paused = false }: SseOptions = {},
): SseClient {
  const socket = connect({ port, host: '127.0.0.1' });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let status = 0;
  let head: Record<string, string> = {};
  let raw: Buffer = Buffer.alloc(0);
  let headDone = false;
  /** The CRLF after a chunk's data is still to come. */
  let chunkEnd = false;
  let body = '';
  let ended = false;
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const extra = { ...(lastEventId !== undefined ? { 'last-event-id': String(lastEventId) } : {}), ...headers };
  socket.on('connect', () => {
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${Object.entries(extra)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`,
    );
  });
  socket.on('error', () => undefined);
  if (paused) socket.pause();

  /** Decodes what arrived of the chunked body into `body`, then the complete frames of `body`. */
  const parse = () => {
    if (!headDone) {
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
      status = Number(lines[0]?.split(' ')[1]);
      head = Object.fromEntries(
        lines.slice(1).map((l) => {
          const i = l.indexOf(':');
          return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
        }),
      );
      raw = raw.subarray(end + 4);
      headDone = true;
      if (head['transfer-encoding'] !== 'chunked') {
        // An error answer (JSON with a content-length): keep it as the body.
        body += raw.toString('utf8');
        raw = Buffer.alloc(0);
        onConnected();
        return;
      }
    }
    if (head['transfer-encoding'] === 'chunked') {
      // A chunk's data is used as soon as it is all there: uWS sends the CRLF that closes a
      // chunk only with the next one.
      for (;;) {
        if (chunkEnd) {
          if (raw.length < 2) break;
          raw = raw.subarray(2);
          chunkEnd = false;
        }
        const eol = raw.indexOf('\r\n');
        if (eol < 0) break;
        const size = Number.parseInt(raw.subarray(0, eol).toString('latin1'), 16);
        if (size === 0) {
          if (raw.length >= eol + 4) ended = true;
          break;
        }
        if (raw.length < eol + 2 + size) break;
        body += raw.subarray(eol + 2, eol + 2 + size).toString('utf8');
        raw = raw.subarray(eol + 2 + size);
        chunkEnd = true;
      }
    } else {
      body += raw.toString('utf8');
      raw = Buffer.alloc(0);
    }
    for (let sep = body.indexOf('\n\n'); sep >= 0; sep = body.indexOf('\n\n')) {
      const frame = body.slice(0, sep);
      body = body.slice(sep + 2);
      let id: number | undefined;
      let data: string | undefined;
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) {
          comments.push(line.slice(1).trim());
          if (line === ': connected') onConnected();
        } else if (line.startsWith('id: ')) id = Number(line.slice(4));
        else if (line.startsWith('data: ')) data = line.slice(6);
        // tRPC's stream says it is connected with an event of its own.
        else if (line === 'event: connected') onConnected();
      }
      if (id !== undefined && data !== undefined) events.push({ id, at: performance.now(), data: JSON.parse(data) as SseEvent['data'] });
    }
  };
  socket.on('data', (chunk: Buffer) => {
    raw = raw.length ? Buffer.concat([raw, chunk]) : chunk;
    parse();
  });
  const closed = new Promise<{ clean: boolean }>((resolve) => socket.on('close', () => resolve({ clean: ended })));
  return {
    socket,
    status: () => status,
    headers: () => head,
    events,
    comments,
    ended: () => ended,
    closed,
    connected,
    resume: () => socket.resume(),
    destroy: () => socket.destroy(),
  };
}

/** Polls `check` until it is true (every 20 ms), or fails with `message` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
