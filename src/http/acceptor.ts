import uWS from 'uWebSockets.js';
import { listenExclusively, silenceServerHeader } from './server.ts';

/**
 * The one listening socket of a process that serves with several threads (WORKERS > 1).
 *
 * The port is bound exclusively, as by a single-threaded server, so no other process can share
 * it; every accepted connection is handed, in turn, to one of the serving apps added as children
 * (the main thread's and one per worker thread, each in its own thread). Until the first app is
 * added, and after the last is removed, connections are answered `503` and closed.
 * @see https://github.com/uNetworking/uWebSockets.js/blob/master/examples/WorkerThreads.js
 */
export interface Acceptor {
  /** Binds the port; resolves with it (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  /** Starts handing connections to a serving app (its `HttpServer.descriptor()`). */
  add(descriptor: unknown): void;
  /** Stops handing connections to it (before that app stops, or when its thread is gone). */
  remove(descriptor: unknown): void;
  /** Stops accepting connections. */
  close(): void;
}

export function createAcceptor(): Acceptor {
  silenceServerHeader();
  const app = uWS.App().any('/*', (res) => {
    res.writeStatus('503 Service Unavailable');
    res.writeHeader('content-type', 'application/json; charset=utf-8');
    res.writeHeader('retry-after', '5');
    res.end(JSON.stringify({ message: 'Service is starting or stopping', code: 'SERVICE_UNAVAILABLE' }), true);
  });
  const children = new Set<unknown>();
  let token: uWS.us_listen_socket | undefined;
  return {
    async listen(host, port) {
      token = await listenExclusively(app, host, port);
      return uWS.us_socket_local_port(token);
    },
    add(descriptor) {
      if (children.has(descriptor)) return;
      children.add(descriptor);
      app.addChildAppDescriptor(descriptor);
    },
    remove(descriptor) {
      if (!children.delete(descriptor)) return;
      app.removeChildAppDescriptor(descriptor);
    },
    close() {
      if (token) uWS.us_listen_socket_close(token);
      token = undefined;
      for (const descriptor of [...children]) this.remove(descriptor);
    },
  };
}
