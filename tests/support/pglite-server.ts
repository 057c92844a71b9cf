import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { loadTemplate } from '../../src/db/pglite-template.ts';

/**
 * Test and benchmark infrastructure only: an in-memory PGlite served over the wire protocol on a
 * loopback port, so a test can hand the service a DATABASE_URL and open its own connections.
 * (The service itself never listens for database connections: see src/db/pglite-link.ts.)
 */
export async function servePglite(maxConnections = 16): Promise<{ url: string; stop(): Promise<void> }> {
  // From the install-time template: initdb in WASM would take seconds per test file.
  const template = loadTemplate();
  const db = new PGlite('memory://', template ? { loadDataDir: template } : {});
  await db.waitReady;
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  const port = Number(server.getServerConn().split(':').pop());
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
