/**
 * Behind a reverse proxy (TRUST_PROXY): which forwarded scheme, host and client address are
 * believed (http/forwarded.ts), and where they show: POST's Location, the Link of a page, the
 * OpenAPI `servers`, the access log's `client`. Off, a client that sends the headers itself
 * changes nothing.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoalescingHandler } from '../src/http/coalesce.ts';
import { clientAddress, publicOrigin } from '../src/http/forwarded.ts';
import { createAbortState, type HttpRequest, type HttpResponse, json } from '../src/http/types.ts';
import { samplePatient, startTestApp, type TestApp } from './support/app.ts';
import { type Answer, exchange } from './support/http.ts';

describe('publicOrigin and clientAddress (the trust rules)', () => {
  const origin = (headers: Record<string, string>, trust: number) => publicOrigin({ host: 'direct:8000', ...headers }, trust);
  const client = (headers: Record<string, string>, trust: number) => clientAddress(headers, '10.0.0.9', trust);

  it('ignores every forwarding header when trust is 0', () => {
    const spoof = {
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
      'x-forwarded-for': '6.6.6.6',
    };
    expect(origin(spoof, 0)).toEqual({ proto: 'http', host: 'direct:8000' });
    expect(client(spoof, 0)).toBe('10.0.0.9');
    expect(publicOrigin({}, 0)).toEqual({ proto: 'http', host: undefined });
  });

  it('without forwarding headers, a trusted proxy changes nothing', () => {
    expect(origin({}, 1)).toEqual({ proto: 'http', host: 'direct:8000' });
    expect(client({}, 1)).toBe('10.0.0.9');
  });

  it('n trusted hops: the n-th entry from the right; a shorter list gives its leftmost; true (Infinity) the leftmost', () => {
    const xff = { 'x-forwarded-for': '1.1.1.1, 2.2.2.2, 3.3.3.3' };
    expect(client(xff, 1)).toBe('3.3.3.3');
    expect(client(xff, 2)).toBe('2.2.2.2');
    expect(client(xff, 3)).toBe('1.1.1.1');
    expect(client(xff, 7)).toBe('1.1.1.1');
    expect(client(xff, Number.POSITIVE_INFINITY)).toBe('1.1.1.1');
    // A client-sent value on the left is not believed with one hop; the proxy's own is.
    const lists = { 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'evil.example, pub.example' };
    expect(origin(lists, 1)).toEqual({ proto: 'http', host: 'pub.example' });
    expect(origin(lists, 2)).toEqual({ proto: 'https', host: 'evil.example' });
    // Proxies usually set one value: believed whatever the number of hops.
    expect(origin({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example:8443' }, 3)).toEqual({
      proto: 'https',
      host: 'pub.example:8443',
    });
    // Empty list elements are not hops.
    expect(client({ 'x-forwarded-for': '1.1.1.1, , 3.3.3.3,' }, 2)).toBe('1.1.1.1');
  });

  it('X-Forwarded-* win over Forwarded: a client cannot name a host through a proxy that sets them but passes Forwarded on', () => {
    const headers = {
      forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'pub.example',
      'x-forwarded-for': '203.0.113.5',
    };
    expect(origin(headers, 1)).toEqual({ proto: 'https', host: 'pub.example' });
    expect(client(headers, 1)).toBe('203.0.113.5');
    // Any one X-Forwarded-* header is enough to leave Forwarded unread.
    expect(origin({ forwarded: 'proto=https;host=evil.example', 'x-forwarded-for': '203.0.113.5' }, 1)).toEqual({
      proto: 'http',
      host: 'direct:8000',
    });
  });

  it('without X-Forwarded-*, Forwarded (RFC 7239) decides: quoted values, several elements, case-insensitive names', () => {
    const headers = { forwarded: 'for=1.1.1.1;host="evil.example", For="[2001:db8::17]:4711";Proto=HTTPS;Host="pub.example:8443"' };
    expect(origin(headers, 1)).toEqual({ proto: 'https', host: 'pub.example:8443' });
    expect(client(headers, 1)).toBe('2001:db8::17');
    // The second element from the right has no proto: the direct one.
    expect(origin(headers, 2)).toEqual({ proto: 'http', host: 'evil.example' });
    expect(client(headers, 2)).toBe('1.1.1.1');
    // A comma inside quotes does not split elements; an escaped quote stays in its value.
    expect(origin({ forwarded: 'for="_a,b";host="x\\"y", proto=https;host=pub.example' }, 1)).toEqual({
      proto: 'https',
      host: 'pub.example',
    });
    expect(client({ forwarded: 'for=unknown;proto="x,y"' }, 1)).toBe('unknown');
    expect(client({ forwarded: 'for=_hidden-node' }, 1)).toBe('_hidden-node');
    // An element without a host leaves the Host header.
    expect(origin({ forwarded: 'proto=https' }, 1)).toEqual({ proto: 'https', host: 'direct:8000' });
  });

  it('never builds a URL from garbage: invalid values give the Host header and http', () => {
    for (const host of [
      'evil.example/path',
      'evil example',
      'user@evil.example',
      'evil.example:80:80',
      'evil.example:port',
      '',
      'évil.example',
      '[::1',
      'a\\b',
    ]) {
      expect(origin({ 'x-forwarded-host': host }, 1).host).toBe('direct:8000');
      expect(origin({ forwarded: `host=${JSON.stringify(host)}` }, 1).host).toBe('direct:8000');
    }
    for (const host of ['pub.example', 'pub.example:8443', 'PUB.Example.', '192.0.2.1:443', '[2001:db8::1]:8443', 'my_service']) {
      expect(origin({ 'x-forwarded-host': host }, 1).host).toBe(host);
    }
    for (const proto of ['ftp', 'javascript', 'https:', 'https://evil.example', '']) {
      expect(origin({ 'x-forwarded-proto': proto }, 1).proto).toBe('http');
    }
    expect(origin({ 'x-forwarded-proto': 'HTTPS' }, 1).proto).toBe('https');
    for (const node of ['not-an-ip', '1.2.3.4.5', '6.6.6.6 7.7.7.7', '[zz::1]'])
      expect(client({ 'x-forwarded-for': node }, 1)).toBe('10.0.0.9');
    expect(client({ 'x-forwarded-for': '192.0.2.7:5678' }, 1)).toBe('192.0.2.7');
    expect(client({ 'x-forwarded-for': '2001:db8::1' }, 1)).toBe('2001:db8::1');
  });

  it('a Forwarded header that does not parse is ignored', () => {
    for (const forwarded of [
      'proto=https host=pub.example',
      'proto="https',
      'proto=https;proto=http',
      '=https',
      'proto',
      'proto=https;host=a"b',
      '',
    ]) {
      expect(origin({ forwarded }, 1)).toEqual({ proto: 'http', host: 'direct:8000' });
      expect(client({ forwarded }, 1)).toBe('10.0.0.9');
    }
    // Names with a meaning on plain objects are ordinary parameters.
    expect(origin({ forwarded: '__proto__=x;constructor=y;proto=https' }, 1).proto).toBe('https');
  });
});

/** A request with exactly these headers (fetch would not send our own Host). */
const send = (
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  body?: unknown,
): Promise<Answer> => exchange(`http://127.0.0.1:${port}${path}`, { method, headers }, body);

const SPOOF = {
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.example',
  forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
  'x-forwarded-for': '6.6.6.6',
};

/** The access-log line of the request with this id. */
function accessLog(t: TestApp, reqId: string): Record<string, unknown> | undefined {
  return t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.reqId === reqId);
}

async function seed(t: TestApp, n: number) {
  for (let i = 0; i < n; i++)
    expect((await send(t.app.port, 'POST', '/patients', {}, samplePatient({ patientID: `PX${i}` }))).status).toBe(201);
}

describe('TRUST_PROXY off (the default): a client sending forwarding headers changes nothing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await seed(t, 3);
  });
  afterAll(() => t?.stop());

  it('Location, Link, the OpenAPI servers and the logged client are what they are without the headers', async () => {
    const port = t.app.port;
    const host = `127.0.0.1:${port}`;
    const created = await send(
      port,
      'POST',
      '/patients',
      { ...SPOOF, 'x-request-id': 'spoof-post' },
      samplePatient({ patientID: 'SPOOF' }),
    );
    expect(created.status).toBe(201);
    const { id } = JSON.parse(created.body) as { id: number };
    expect(created.headers.location).toBe(`http://${host}/patients/${id}`);

    const plain = await send(port, 'GET', '/patients?_page=2&_limit=1');
    const spoofed = await send(port, 'GET', '/patients?_page=2&_limit=1', { ...SPOOF, 'x-request-id': 'spoof-get' });
    expect(plain.headers.link).toBe(
      `<http://${host}/patients?_page=1&_limit=1>; rel="first", <http://${host}/patients?_page=1&_limit=1>; rel="prev", ` +
        `<http://${host}/patients?_page=3&_limit=1>; rel="next", <http://${host}/patients?_page=4&_limit=1>; rel="last"`,
    );
    expect(spoofed.headers.link).toBe(plain.headers.link);

    const doc = await send(port, 'GET', '/openapi.json', SPOOF);
    expect((JSON.parse(doc.body) as { servers: unknown }).servers).toEqual([{ url: '/' }]);

    for (const reqId of ['spoof-post', 'spoof-get']) expect(accessLog(t, reqId)).toMatchObject({ client: '127.0.0.1' });
  });
});

describe('TRUST_PROXY=1: the nearest proxy decides the public scheme, host and client', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: '1' });
    await seed(t, 3);
  });
  afterAll(() => t?.stop());

  const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pub.example:8443', 'x-forwarded-for': '6.6.6.6, 203.0.113.5' };

  it("POST's Location, a page's Link and the OpenAPI servers use X-Forwarded-Proto/Host", async () => {
    const port = t.app.port;
    const created = await send(
      port,
      'POST',
      '/patients',
      { ...proxied, 'x-request-id': 'proxied-post' },
      samplePatient({ patientID: 'PROXIED' }),
    );
    const { id } = JSON.parse(created.body) as { id: number };
    expect(created.headers.location).toBe(`https://pub.example:8443/patients/${id}`);

    const page = await send(port, 'GET', '/patients?_limit=1&_page=2', proxied);
    const base = 'https://pub.example:8443/patients';
    expect(page.headers.link).toBe(
      `<${base}?_limit=1&_page=1>; rel="first", <${base}?_limit=1&_page=1>; rel="prev", <${base}?_limit=1&_page=3>; rel="next", <${base}?_limit=1&_page=4>; rel="last"`,
    );

    const doc = await send(port, 'GET', '/openapi.json', proxied);
    expect((JSON.parse(doc.body) as { servers: unknown }).servers).toEqual([{ url: 'https://pub.example:8443' }]);
    // The rest of the document is the one served without a proxy.
    const direct = await send(port, 'GET', '/openapi.json');
    expect((JSON.parse(direct.body) as { servers: unknown }).servers).toEqual([{ url: `http://127.0.0.1:${port}` }]);
    expect({ ...JSON.parse(doc.body), servers: 0 }).toEqual({ ...JSON.parse(direct.body), servers: 0 });

    // The client is the address the proxy appended, not the one the client claimed.
    expect(accessLog(t, 'proxied-post')).toMatchObject({ client: '203.0.113.5' });
  });

  it('uses Forwarded when no X-Forwarded-* is sent, and falls back to the Host header and http for invalid values', async () => {
    const port = t.app.port;
    const viaForwarded = await send(
      port,
      'POST',
      '/patients',
      { forwarded: 'for=6.6.6.6;host=evil.example, for="[2001:db8::5]";proto=https;host="api.example"', 'x-request-id': 'forwarded-post' },
      samplePatient({ patientID: 'FWD' }),
    );
    expect(viaForwarded.headers.location).toMatch(/^https:\/\/api\.example\/patients\/\d+$/);
    expect(accessLog(t, 'forwarded-post')).toMatchObject({ client: '2001:db8::5' });

    const garbage = await send(
      port,
      'POST',
      '/patients',
      { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'evil.example/x?', 'x-forwarded-for': 'not-an-address' },
      samplePatient({ patientID: 'GARBAGE' }),
    );
    expect(garbage.headers.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/patients/\\d+$`));
  });

  it('repeated header lines are one list: the last line is the nearest hop', async () => {
    const page = await send(t.app.port, 'GET', '/patients?_page=1&_limit=2', {
      'x-forwarded-host': ['evil.example', 'pub.example'],
      'x-forwarded-proto': 'https',
    });
    expect(String(page.headers.link)).toMatch(/^<https:\/\/pub\.example\/patients\?_page=1&_limit=2>; rel="first"/);
  });
});

describe('TRUST_PROXY=1 with request coalescing on', () => {
  let t: TestApp;
  beforeAll(async () => {
    // On explicitly (the test helpers turn it off): this is about answers that must not be shared.
    t = await startTestApp({ TRUST_PROXY: '1', COALESCE_READS: 'true' });
    await seed(t, 3);
  });
  afterAll(() => t?.stop());

  it('concurrent identical pages asked for over http and https each get their own Link (no shared answer)', async () => {
    const port = t.app.port;
    const protos = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 'https' : 'http'));
    const pages = await Promise.all(
      protos.map((proto) =>
        send(port, 'GET', '/patients?_page=1&_limit=1', { 'x-forwarded-proto': proto, 'x-forwarded-host': 'pub.example' }),
      ),
    );
    for (const [i, page] of pages.entries()) expect(String(page.headers.link)).toMatch(new RegExp(`^<${protos[i]}://pub\\.example/`));
  });
});

describe('coalescing keeps requests with different forwarding headers apart', () => {
  let seq = 0;
  const request = (headers: Record<string, string>): HttpRequest => {
    const abort = createAbortState();
    return {
      method: 'GET',
      path: '/patients',
      query: '_page=1',
      headers: { host: 'h', ...headers },
      body: undefined,
      requestId: `p${seq++}`,
      get signal() {
        return abort.signal;
      },
      onAbort: (listener) => abort.onAbort(listener),
      disconnect: () => undefined,
    };
  };

  it('two clients differing only in X-Forwarded-Proto (or -Host, or Forwarded) do not share an answer', async () => {
    const executed: HttpRequest[] = [];
    const handler = createCoalescingHandler((req) => {
      executed.push(req);
      return Promise.resolve<HttpResponse>(json(200, req.headers['x-forwarded-proto'] ?? null));
    });
    // Identical requests sent while one of theirs runs join one pending execution: the first https
    // one runs at once, the second and third share the next.
    const variants: Record<string, string>[] = [
      { 'x-forwarded-proto': 'https' },
      { 'x-forwarded-proto': 'https' },
      { 'x-forwarded-proto': 'https' },
      { 'x-forwarded-proto': 'http' },
      { 'x-forwarded-host': 'a.example' },
      { 'x-forwarded-host': 'b.example' },
      { forwarded: 'proto=https' },
      {},
    ];
    const answers = await Promise.all(variants.map((headers) => handler(request(headers))));
    expect(executed).toHaveLength(variants.length - 1);
    expect(answers.map((a) => JSON.parse(Buffer.from(a.body ?? '').toString()))).toEqual(
      variants.map((v) => v['x-forwarded-proto'] ?? null),
    );
  });
});
