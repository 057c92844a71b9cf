/**
 * The service behind a real nginx that terminates TLS (the deployment the README describes):
 * with TRUST_PROXY=1, the URLs the API hands out are the public `https://localhost:<port>/…`,
 * and following them through nginx works. Skipped where nginx is not installed (`.ci/run`
 * installs it).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { type Answer, exchange } from './support/http.ts';
import { NGINX, type Nginx, startNginx } from './support/nginx.ts';

describe.runIf(existsSync(NGINX))('behind nginx terminating TLS (TRUST_PROXY=1)', () => {
  let t: TestApp;
  let nginx: Nginx;
  let origin: string;

  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: '1' });
    nginx = await startNginx(t.app.port);
    origin = `https://localhost:${nginx.port}`;
  });
  afterAll(async () => {
    await nginx?.stop();
    await t?.stop();
  });

  /**
   * An HTTPS request to a URL as the API gave it, checked against the test's certificate (no
   * `rejectUnauthorized: false`). `localhost` is resolved to IPv4, where nginx listens.
   */
  const fetchTls = (url: string, method = 'GET', headers: Record<string, string> = {}, body?: unknown): Promise<Answer> =>
    exchange(url, { method, ca: nginx.ca, family: 4, agent: false, headers }, body);

  /** The URL of each rel in a Link header. */
  const rels = (link: string) => Object.fromEntries([...link.matchAll(/<([^>]+)>; rel="(\w+)"/g)].map((m) => [m[2], m[1]]));

  it("POST's Location is the public https URL, and it leads to the patient through nginx", async () => {
    const created = await fetchTls(`${origin}/patients`, 'POST', {}, samplePatient({ patientID: 'NGX-1' }));
    expect(created.status, nginx.errors()).toBe(201);
    const stored = JSON.parse(created.body) as { id: number };
    expect(created.headers.location).toBe(`${origin}/patients/${stored.id}`);
    const followed = await fetchTls(String(created.headers.location));
    expect(followed.status).toBe(200);
    expect(JSON.parse(followed.body)).toEqual(stored);
  });

  it("a page's Link names the public https URLs, and every rel works through nginx", async () => {
    for (let i = 2; i <= 5; i++)
      expect((await fetchTls(`${origin}/patients`, 'POST', {}, samplePatient({ patientID: `NGX-${i}` }))).status).toBe(201);
    const page = await fetchTls(`${origin}/patients?_sort=id&_page=2&_limit=2`);
    expect(page.status).toBe(200);
    expect(page.headers['x-total-count']).toBe('5');
    const links = rels(String(page.headers.link));
    expect(links).toEqual({
      first: `${origin}/patients?_sort=id&_page=1&_limit=2`,
      prev: `${origin}/patients?_sort=id&_page=1&_limit=2`,
      next: `${origin}/patients?_sort=id&_page=3&_limit=2`,
      last: `${origin}/patients?_sort=id&_page=3&_limit=2`,
    });
    const next = await fetchTls(links.next!);
    expect(next.status).toBe(200);
    expect((JSON.parse(next.body) as { patientID: string }[]).map((p) => p.patientID)).toEqual(['NGX-5']);
    expect(rels(String(next.headers.link)).prev).toBe(`${origin}/patients?_sort=id&_page=2&_limit=2`);
    const first = await fetchTls(links.first!);
    expect((JSON.parse(first.body) as { patientID: string }[]).map((p) => p.patientID)).toEqual(['NGX-1', 'NGX-2']);
  });

  it('the OpenAPI document names the public server', async () => {
    const doc = await fetchTls(`${origin}/openapi.json`);
    expect((JSON.parse(doc.body) as { servers: unknown }).servers).toEqual([{ url: origin }]);
  });

  it('a client sending its own forwarding headers through nginx changes nothing; the log names the address nginx saw', async () => {
    const created = await fetchTls(
      `${origin}/patients`,
      'POST',
      {
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=6.6.6.6;host=evil.example;proto=http',
        'x-forwarded-for': '6.6.6.6',
        'x-request-id': 'nginx-spoof',
      },
      samplePatient({ patientID: 'NGX-SPOOF' }),
    );
    expect(created.status).toBe(201);
    expect(String(created.headers.location)).toMatch(new RegExp(`^${origin}/patients/\\d+$`));
    const line = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.reqId === 'nginx-spoof');
    expect(line).toMatchObject({ client: '127.0.0.1', status: 201 });
  });
});
