import { expect } from 'vitest';
import type { HttpResponse } from '../../src/http/types.ts';

/**
 * A fast path's answer is the library path's, byte for byte: status, headers and body (the health
 * check's timestamp is the only part that differs between two calls).
 */
export function expectSameAnswer(quick: HttpResponse | undefined, slow: HttpResponse): void {
  expect(quick, 'the fast path took it').toBeDefined();
  expect(quick!.status).toBe(slow.status);
  const text = (body: HttpResponse['body']) =>
    Buffer.from((body as string | Uint8Array | undefined) ?? '')
      .toString()
      .replace(/"timestamp":"[^"]+"/, '"timestamp":"…"');
  expect(text(quick!.body)).toBe(text(slow.body));
  expect(quick!.headers).toEqual(slow.headers);
}
