// What uWebSockets.js 20.57 has at runtime but its index.d.ts does not declare.
import 'uWebSockets.js';

declare module 'uWebSockets.js' {
  interface TemplatedApp {
    /** An opaque handle to this app, for another thread's `addChildAppDescriptor`. */
    getDescriptor(): unknown;
    /** Hands accepted connections, in turn, to the app with this descriptor (in its own thread). */
    addChildAppDescriptor(descriptor: unknown): TemplatedApp;
    removeChildAppDescriptor(descriptor: unknown): TemplatedApp;
  }
  /** listen() option: bind without SO_REUSEPORT. */
  export const LIBUS_LISTEN_EXCLUSIVE_PORT: number;
  /** Undocumented switches; `_cfg('silent')` drops the `uWebSockets: 20` response header. */
  export function _cfg(key: string): void;
}
