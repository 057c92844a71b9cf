import type { MessagePort } from 'node:worker_threads';
import type { LinkStream } from './pglite-link.ts';

/**
 * PostgreSQL in WASM (PGlite), inside this process. MikroORM uses its normal PostgreSQL driver
 * (node-postgres) over the wire protocol, exactly as in production, but each connection is an
 * in-process stream (see pglite-link.ts): the embedded database listens on no port and no socket
 * file, so no other process or user can open a session on it.
 */
export interface EmbeddedPostgres {
  /** A new connection, for node-postgres' `stream` option. */
  connect(): LinkStream;
  /** Serves the connections another thread opens through `connector` (each message: a MessagePort). */
  serve(connector: MessagePort): void;
  stop(): Promise<void>;
}

/** The URL MikroORM is configured with for the embedded database (only user and database count). */
export const EMBEDDED_URL = 'postgresql://postgres@embedded/postgres';

/**
 * Opens PGlite on `location` (a directory, or `memory://`, always new). `fresh`: the directory is new and
 * empty, so it is filled from the install-time template instead of running initdb (see
 * pglite-template.ts).
 */
export async function startEmbeddedPostgres(location: string, { fresh = false } = {}): Promise<EmbeddedPostgres> {
  // Loaded here, not at the top: a server on DATABASE_URL never pays for loading PGlite.
  const [{ PGlite }, link, { loadTemplate }, { makePrivate }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('./pglite-link.ts'),
    import('./pglite-template.ts'),
    import('./data-dir.ts'),
  ]);
  const onDisk = !location.startsWith('memory://');
  const template = fresh || !onDisk ? loadTemplate() : undefined;
  const pglite = new PGlite(location, template ? { loadDataDir: template } : {});
  await pglite.waitReady;
  if (onDisk) makePrivate(location);
  const queue = link.createQueryQueue(pglite);
  const open = new Set<LinkStream>();
  const track = (end: LinkStream) => {
    open.add(end);
    end.once('close', () => open.delete(end));
    link.attachToPglite(queue, end);
  };
  const connectors = new Set<MessagePort>();
  let stopped = false;
  return {
    connect() {
      const [client, server] = link.createPipe();
      if (stopped) server.destroy();
      else track(server);
      return client;
    },
    serve(connector) {
      connectors.add(connector);
      connector.on('message', (port: MessagePort) => {
        const server = link.streamOverPort(port);
        if (stopped) server.destroy();
        else track(server);
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const connector of connectors) connector.close();
      queue.close();
      for (const end of open) end.destroy();
      // Wait for the statement PGlite may be running, then close it.
      await pglite.runExclusive(async () => undefined);
      await pglite.close();
      if (onDisk) makePrivate(location);
    },
  };
}
