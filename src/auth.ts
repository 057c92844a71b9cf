import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Optional bearer-token auth (API_TOKENS). Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, against every configured token, so the time taken says nothing about how
 * much of a token matched or which one did.
 */
export function createTokenCheck(tokens: readonly string[]) {
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return {
    enabled: digests.length > 0,
    /** True when auth is off, or the Authorization header carries a configured bearer token. */
    allows(authorization: string | undefined): boolean {
      if (digests.length === 0) return true;
      const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
      const presented = createHash('sha256')
        .update(match?.[1] ?? '')
        .digest();
      let ok = false;
      for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
      return ok && match !== null;
    },
  };
}

export type TokenCheck = ReturnType<typeof createTokenCheck>;
