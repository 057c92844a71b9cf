import { BroadcastChannel } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Resource } from '../core/resource.ts';
import type { Database } from '../db/database.ts';
import { type ChangeFeed, createChangeFeed, type FeedOptions } from './feed.ts';
import { createPgListener, type PgListener } from './listener.ts';

/**
 * Live updates of one thread: a change feed per resource with a history (feed.ts), and how they
 * learn that something was written.
 *
 * - On a PostgreSQL server, a trigger on each history table NOTIFYs after the write commits
 *   (migration patient_events_notify); the process' first app (`listen: true`) keeps the one
 *   LISTEN connection and passes every notification to the process' other threads.
 * - A write of any thread also says so itself (`changed()`), to every thread of the process: all
 *   the embedded database has (one process, no LISTEN), and the quickest path in-process.
 * Threads talk over a BroadcastChannel; every feed also polls while anyone listens.
 */
export interface Live {
  /** The feed of a resource's changes (one per history table and thread); `key` names the record in each event. */
  feed(r: Resource, key: string): ChangeFeed;
  /** A write of this thread committed (embedded database: tells every thread's feeds). */
  changed(): void;
  /** Ends every subscription and stops listening. */
  close(): Promise<void>;
}

export interface LiveOptions {
  db: Database;
  logger: Logger;
  /** Keep the process' LISTEN connection (the first app of a process; PostgreSQL server only). */
  listen: boolean;
  /** The history tables: each NOTIFYs on a channel of its own name. */
  tables: readonly string[];
  feed?: Omit<FeedOptions, 'logger' | 'recordKey'>;
  /** Channels this process' threads share (tests run several services in one process). */
  channelName?: string;
}

export function createLive({
  db,
  logger,
  listen,
  tables,
  feed: feedOptions = {},
  channelName = 'health-management-api:changes',
}: LiveOptions): Live {
  const feeds = new Map<string, ChangeFeed>();
  const pokeAll = () => {
    for (const feed of feeds.values()) feed.poke();
  };
  const channel = new BroadcastChannel(channelName);
  channel.onmessage = pokeAll;
  // The channel must not keep the process alive.
  (channel as unknown as { unref(): void }).unref();

  let listener: PgListener | undefined;
  const newClient = db.newClient?.bind(db);
  if (listen && newClient) {
    listener = createPgListener({
      connect: newClient,
      channels: tables,
      onNotify: () => {
        if (closed) return;
        pokeAll();
        channel.postMessage(null);
      },
      logger,
    });
  }
  // A burst of writes is one message. (On a PostgreSQL server the NOTIFY says it too, and reaches
  // other processes; this is what the embedded database has, and it is quicker in-process.)
  let announced = false;
  let closed = false;

  return {
    feed(r, key) {
      const table = r.history?.table ?? r.table;
      let feed = feeds.get(table);
      if (!feed) {
        feed = createChangeFeed(db.sql, r, { logger, recordKey: key, ...feedOptions });
        feeds.set(table, feed);
      }
      return feed;
    },
    changed() {
      if (announced || closed) return;
      announced = true;
      setImmediate(() => {
        announced = false;
        // A write that finished while the service was stopping: the channel is gone.
        if (closed) return;
        pokeAll();
        channel.postMessage(null);
      });
    },
    async close() {
      closed = true;
      for (const feed of feeds.values()) feed.close();
      channel.close();
      await listener?.close();
    },
  };
}
