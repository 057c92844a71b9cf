import { type AddressInfo, createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on `host` (for listeners that need a fixed port: worker
 * threads sharing one through SO_REUSEPORT, test and bench peers). Another process can take it
 * before it is used: callers that bind it retry.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
