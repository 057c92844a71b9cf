import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without type declarations
import { patchElf } from '../scripts/patch-uws-glibc.mjs';

const require = createRequire(import.meta.url);

describe('uWebSockets.js', () => {
  it('loads the native addon for this Node version (no JS fallback)', () => {
    const uws = require('uWebSockets.js') as { App: unknown; us_listen_socket_close: unknown };
    expect(typeof uws.App).toBe('function');
    // uws.js loads exactly this addon and throws when it cannot: there is no JS fallback.
    const dir = dirname(require.resolve('uWebSockets.js'));
    const addon = join(dir, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
    const native = require(addon) as { App: unknown };
    expect(typeof native.App).toBe('function');
  });

  it('the glibc patch is idempotent: an installed binary needs no further change', () => {
    if (process.platform !== 'linux') return;
    const dir = dirname(require.resolve('uWebSockets.js'));
    const file = join(dir, `uws_linux_${process.arch}_${process.versions.modules}.node`);
    const buf = readFileSync(file);
    const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;
    const [major, minor] = (glibc ?? '2.99').split('.').map(Number);
    const old = major === 2 && (minor ?? 0) < 38;
    const changes = patchElf(Buffer.from(buf)) as string[];
    if (old) expect(changes).toEqual([]);
    else expect(Array.isArray(changes)).toBe(true);
  });
});
