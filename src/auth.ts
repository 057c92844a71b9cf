import { createHash, timingSafeEqual } from 'node:crypto';

/** One API_TOKENS entry: the name events record as the actor, and the secret. */
export interface ApiToken {
  name: string;
  token: string;
}

/** The actor of every change when API_TOKENS is not set. */
export const ANONYMOUS = 'anonymous';

/**
 * API_TOKENS entries: `name:token`, or a bare token (the old form), which is named `token-1`,
 * `token-2`, ... by its position. A name is 1–64 of `A-Z a-z 0-9 . _ -`.
 */
export function parseApiTokens(entries: readonly string[]): ApiToken[] {
  return entries.map((entry, i) => {
    const named = /^([A-Za-z0-9._-]{1,64}):(.+)$/.exec(entry);
    return named ? { name: named[1]!, token: named[2]! } : { name: `token-${i + 1}`, token: entry };
  });
}

/**
 * Optional bearer-token auth (API_TOKENS). Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, against every configured token, so the time taken says nothing about how
 * much of a token matched or which one did. The token is never kept beyond this check: callers get
 * its name.
 */
export function createTokenCheck(tokens: readonly ApiToken[]) {
  const digests = tokens.map((t) => ({ name: t.name, digest: createHash('sha256').update(t.token).digest() }));
  return {
    enabled: digests.length > 0,
    /**
     * Who the request acts as: the name of the token in its Authorization header, `anonymous`
     * when auth is off, undefined when auth is on and no configured token was presented.
     */
    actorOf(authorization: string | undefined): string | undefined {
      if (digests.length === 0) return ANONYMOUS;
      const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
      const presented = createHash('sha256')
        .update(match?.[1] ?? '')
        .digest();
      let actor: string | undefined;
      for (const d of digests) if (timingSafeEqual(d.digest, presented) && actor === undefined) actor = d.name;
      return match === null ? undefined : actor;
    },
  };
}

export type TokenCheck = ReturnType<typeof createTokenCheck>;
