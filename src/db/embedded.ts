import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface EmbeddedPostgres {
  /** A PostgreSQL connection URL for the in-process server (loopback, ephemeral port). */
  url: string;
  /** True when this start created the data directory (first run). */
  created: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Where the data lives; `memory://` keeps it in memory (tests). */
  dataDir: string;
  /** Concurrent wire connections to accept: at least the ORM pool size. */
  maxConnections: number;
}

/**
 * PostgreSQL in WASM (PGlite), served over the wire protocol on 127.0.0.1 by pglite-socket, so
 * MikroORM uses its normal PostgreSQL driver, exactly as in production. Only one process may
 * open a data directory at a time.
 */
export async function startEmbeddedPostgres({ dataDir, maxConnections }: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const inMemory = dataDir.startsWith('memory://');
  let created = inMemory;
  let location = dataDir;
  if (!inMemory) {
    location = resolve(dataDir);
    created = !existsSync(join(location, 'PG_VERSION'));
    mkdirSync(location, { recursive: true });
  }
  // Loaded here, not at the top: a server on DATABASE_URL never pays for loading PGlite.
  const [{ PGlite }, { PGLiteSocketServer }, { loadTemplate }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
    import('./pglite-template.ts'),
  ]);
  const template = created ? loadTemplate() : undefined;
  const pglite = new PGlite(location, template ? { loadDataDir: template } : {});
  await pglite.waitReady;
  const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0, maxConnections });
  try {
    await server.start();
  } catch (error) {
    await pglite.close();
    throw error;
  }
  const port = Number(server.getServerConn().split(':').pop());
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    created,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}
