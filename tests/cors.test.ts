/**
 * CORS_ORIGINS for hosted frontends: exact origins and preview-deployment patterns. A pattern
 * must never let a look-alike origin in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';
import { createOriginMatcher } from '../src/http/cors.ts';
import { startTestApp, type TestApp } from './support/app.ts';

const PATTERNS = 'https://*.vercel.app, https://clinic-*.pages.dev, https://records.clinic.example';

describe('origin patterns', () => {
  const allowed = createOriginMatcher(parseConfig({ CORS_ORIGINS: PATTERNS }).corsOrigins);
  it.each([
    ['https://my-app-git-branch-team.vercel.app', true],
    ['https://x.vercel.app', true],
    ['https://clinic-preview-42.pages.dev', true],
    ['https://records.clinic.example', true],
    ['https://vercel.app', false], // the bare suffix
    ['https://.vercel.app', false],
    ['https://a.b.vercel.app', false], // the wildcard never crosses a dot
    ['https://vercel.app.evil.com', false],
    ['https://evil.com/.vercel.app', false],
    ['https://evil.com?.vercel.app', false],
    ['https://x.vercel.app.', false], // trailing dot
    ['https://x.vercel.app:8443', false], // port exact
    ['http://x.vercel.app', false], // scheme exact
    ['HTTPS://X.VERCEL.APP', false], // not how a browser sends it
    ['null', false],
    ['https://clinic-.pages.dev', false], // the prefix alone
    ['https://clinicx.pages.dev', false],
    ['https://evil-clinic-1.pages.dev', false],
    ['https://records.clinic.example.evil.com', false],
    ['https://x_y.vercel.app', false],
  ])('%s → %s', (origin, expected) => {
    expect(allowed(origin)).toBe(expected);
  });

  it('refuses patterns that would match too much, naming only the variable', () => {
    for (const bad of ['https://*.app', 'https://a.*.example.com', '*', 'https://vercel.*', 'https://*', 'ftp://*.example.com']) {
      expect(() => parseConfig({ CORS_ORIGINS: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
    }
  });

  it('allows the dev servers under 127.0.0.1 as well as localhost by default', () => {
    const byDefault = createOriginMatcher(parseConfig({}).corsOrigins);
    for (const origin of ['http://localhost:3000', 'http://localhost:5173', 'http://127.0.0.1:3000', 'http://127.0.0.1:5173'])
      expect(byDefault(origin)).toBe(true);
    expect(byDefault('http://127.0.0.1:8080')).toBe(false);
  });
});

describe('over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: PATTERNS });
  });
  afterAll(() => t?.stop());

  it('echoes a matching preview origin on a preflight and a GET, and nothing for a look-alike', async () => {
    const preview = 'https://feature-x-clinic.vercel.app';
    const pre = await fetch(`${t.baseUrl}/patients`, {
      method: 'OPTIONS',
      headers: { origin: preview, 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(preview);
    const get = await fetch(`${t.baseUrl}/patients`, { headers: { origin: preview } });
    expect(get.headers.get('access-control-allow-origin')).toBe(preview);
    for (const evil of ['https://vercel.app.evil.com', 'https://feature-x-clinic.vercel.app.evil.com', 'null']) {
      const res = await fetch(`${t.baseUrl}/patients`, { headers: { origin: evil } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const p = await fetch(`${t.baseUrl}/patients`, {
        method: 'OPTIONS',
        headers: { origin: evil, 'access-control-request-method': 'POST' },
      });
      expect(p.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});
