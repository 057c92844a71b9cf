import { Duplex } from 'node:stream';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket';

/**
 * Connections to the embedded PGlite without any listening socket.
 *
 * node-postgres accepts a `stream` in place of a TCP socket. Each connection of MikroORM's pool
 * gets one end of an in-memory byte pipe; the other end is attached to pglite-socket's protocol
 * handler, exactly as a TCP socket would be. So nothing outside this process can open a session
 * on the embedded database: there is no port or socket file to connect to (before, a loopback
 * TCP port accepted any user and password). Worker threads reach the database in the main thread
 * the same way, over a MessagePort per connection.
 */

/** What a stream needs to carry bytes to its other end. */
interface Carrier {
  send(chunk: Uint8Array): void;
  finish(): void;
  close(): void;
}

/**
 * One end of a connection: a Duplex with the few socket methods node-postgres and pglite-socket
 * call (`connect`, `setNoDelay`, `setKeepAlive`, `ref`, `unref`, the peer address).
 */
export class LinkStream extends Duplex {
  readonly remoteAddress = 'in-process';
  readonly remotePort = 0;
  carrier: Carrier | undefined;

  constructor() {
    // A finished read side ends the write side too, so 'close' follows (pglite-socket waits for it).
    super({ allowHalfOpen: false });
  }
  /** node-postgres "connects" the socket it was given: nothing to do but say so. */
  connect(): this {
    process.nextTick(() => this.emit('connect'));
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  override _read() {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.carrier?.send(chunk);
    done();
  }
  override _final(done: (error?: Error | null) => void) {
    this.carrier?.finish();
    done();
  }
  override _destroy(error: Error | null, done: (error?: Error | null) => void) {
    this.carrier?.close();
    done(error);
  }
}

/**
 * Bytes written in one tick travel together, as over TCP: node-postgres writes Parse, Bind,
 * Execute and Sync one by one, and each chunk delivered on its own would be a separate turn of
 * pglite-socket's handler (measured: twice the time per query).
 */
function coalesce(deliver: (chunk: Buffer) => void): (chunk: Uint8Array) => void {
  let pending: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    // A buffer of its own (never a slice of Node's shared pool): it may be moved to another thread.
    const out = Buffer.allocUnsafeSlow(size);
    let offset = 0;
    for (const chunk of pending) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    pending = [];
    size = 0;
    deliver(out);
  };
  return (chunk) => {
    if (pending.length === 0) queueMicrotask(flush);
    // The writer may reuse its buffer once write() returns: keep a copy.
    pending.push(Uint8Array.prototype.slice.call(chunk));
    size += chunk.byteLength;
  };
}

/** Two ends of an in-memory pipe. */
export function createPipe(): [LinkStream, LinkStream] {
  const a = new LinkStream();
  const b = new LinkStream();
  const carry = (to: LinkStream): Carrier => ({
    send: coalesce((chunk) => to.push(chunk)),
    // After what was sent in this tick.
    finish: () => queueMicrotask(() => queueMicrotask(() => to.push(null))),
    close: () => {
      if (!to.destroyed) to.destroy();
    },
  });
  a.carrier = carry(b);
  b.carrier = carry(a);
  return [a, b];
}

/** One end of a connection whose other end is across a MessagePort (another thread). */
export function streamOverPort(port: MessagePort): LinkStream {
  const stream = new LinkStream();
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    port.close();
  };
  stream.carrier = {
    // Moved (not copied again) to the other thread.
    send: coalesce((chunk) => {
      if (open) port.postMessage(chunk, [chunk.buffer as ArrayBuffer]);
    }),
    finish: () => queueMicrotask(() => queueMicrotask(() => open && port.postMessage(null))),
    close,
  };
  port.on('message', (m: Uint8Array | null) => {
    if (m === null) stream.push(null);
    else stream.push(Buffer.from(m.buffer, m.byteOffset, m.byteLength));
  });
  port.on('close', () => {
    open = false;
    if (!stream.destroyed) stream.destroy();
  });
  return stream;
}

interface Queued {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs the protocol messages of every connection one at a time on the single PGlite session
 * (the queue pglite-socket's server keeps, which it does not export). While a connection holds a
 * transaction open, only its messages run, so transactions of different connections never mix.
 */
export function createQueryQueue(db: PGlite) {
  let queue: Queued[] = [];
  let processing = false;
  let lastHandlerId: number | null = null;
  /** PGlite is closing: nothing may reach it any more (a pool's goodbye messages arrive late). */
  let closed = false;

  const next = (): Queued | undefined => {
    if (closed) return undefined;
    if (db.isInTransaction() && lastHandlerId !== null) {
      const index = queue.findIndex((q) => q.handlerId === lastHandlerId);
      return index === -1 ? undefined : queue.splice(index, 1)[0];
    }
    return queue.shift();
  };

  const processQueue = async () => {
    if (processing) return;
    processing = true;
    try {
      for (let item = next(); item; item = next()) {
        let bytes = 0;
        const current = item;
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(current.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                current.onData(data);
              },
            }),
          );
        } catch (error) {
          current.reject(error);
          continue;
        }
        lastHandlerId = current.handlerId;
        current.resolve(bytes);
      }
    } finally {
      processing = false;
    }
  };

  return {
    enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
      if (closed) return Promise.reject(new Error('the embedded database is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ handlerId, message, onData, resolve, reject });
        void processQueue();
      });
    },
    clearQueueForHandler(handlerId: number) {
      queue = queue.filter((q) => {
        if (q.handlerId !== handlerId) return true;
        q.reject(new Error('connection closed'));
        return false;
      });
    },
    /** Refuses everything from now on; what waits is answered with an error. */
    close() {
      closed = true;
      for (const q of queue) q.reject(new Error('the embedded database is closed'));
      queue = [];
    },
    /** A connection that goes away in the middle of a transaction leaves nothing half-done. */
    async clearTransactionIfNeeded(handlerId: number) {
      if (!closed && db.isInTransaction() && lastHandlerId === handlerId) {
        await db.exec('rollback');
        lastHandlerId = null;
        void processQueue();
      }
    },
  };
}

export type QueryQueue = ReturnType<typeof createQueryQueue>;

/** Serves one connection end with pglite-socket's protocol handler (startup, SSL refusal, messages). */
export function attachToPglite(queue: QueryQueue, end: LinkStream): void {
  // The handler's option is typed with its own (unexported) queue class; ours has the same methods.
  type HandlerOptions = ConstructorParameters<typeof PGLiteSocketHandler>[0];
  const handler = new PGLiteSocketHandler({ queryQueue: queue as unknown as HandlerOptions['queryQueue'], closeOnDetach: true });
  // A LinkStream is a Duplex with what the handler uses of a Socket (write, end, destroy, events).
  void handler.attach(end as unknown as Parameters<PGLiteSocketHandler['attach']>[0]).catch(() => end.destroy());
}

/** A connection from a worker thread to the embedded database served by the main thread. */
export function connectThroughPort(connector: MessagePort): LinkStream {
  const { port1, port2 } = new MessageChannel();
  connector.postMessage(port2, [port2]);
  return streamOverPort(port1);
}
