import type pg from 'pg';
import type { Logger } from 'pino';

export interface PgListener {
  close(): Promise<void>;
}

export interface PgListenerOptions {
  /** A new, unconnected client (same server, TLS and settings as the pools). */
  connect: () => pg.Client;
  channels: readonly string[];
  /** A notification arrived, or the connection was (re)established: whatever came meanwhile is in the tables. */
  onNotify: () => void;
  logger: Logger;
  /** First and longest wait before reconnecting after the connection is lost. */
  retryMs?: { min: number; max: number };
}

/**
 * One PostgreSQL connection per process that LISTENs (PostgreSQL delivers a NOTIFY after its
 * transaction commits). When the connection drops (a failover, pg_terminate_backend, a network cut)
 * it is opened again with backoff, and `onNotify` is called once it is back: readers catch up from
 * the tables, so nothing sent meanwhile is missed.
 */
export function createPgListener({
  connect,
  channels,
  onNotify,
  logger,
  retryMs = { min: 100, max: 5_000 },
}: PgListenerOptions): PgListener {
  let client: pg.Client | undefined;
  let closed = false;
  let wait = retryMs.min;
  let timer: NodeJS.Timeout | undefined;

  const open = async () => {
    if (closed) return;
    const c = connect();
    client = c;
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      c.removeAllListeners('notification');
      void c.end().catch(() => undefined);
      if (client === c) client = undefined;
      if (closed) return;
      logger.warn({ retryMs: wait }, 'live updates: LISTEN connection lost, reconnecting');
      timer = setTimeout(() => void open(), wait);
      timer.unref();
      wait = Math.min(wait * 2, retryMs.max);
    };
    c.on('error', onLost);
    c.on('end', onLost);
    c.on('notification', () => onNotify());
    try {
      await c.connect();
      for (const channel of channels) await c.query(`listen "${channel}"`);
      if (closed) {
        await c.end().catch(() => undefined);
        return;
      }
      wait = retryMs.min;
      onNotify();
    } catch {
      onLost();
    }
  };
  void open();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
