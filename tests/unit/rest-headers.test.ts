/**
 * The REST list headers (X-Total-Count, Link, Access-Control-Expose-Headers) and Location, as
 * json-server 0.17.4 sends them (src/api/rest-headers.ts).
 */
import { describe, expect, it } from 'vitest';
import { type ListMeta, listHeaders, locationOf } from '../../src/api/rest-headers.ts';
import type { RestRequest } from '../../src/api/trpc.ts';
import type { Paging } from '../../src/core/json-server-query.ts';
import { JsonText } from '../../src/core/json-text.ts';

const request = (url: string, host: string | undefined, proto: RestRequest['proto'] = 'http'): RestRequest => ({ url, host, proto });
/** A request whose Host header was `localhost:8000`. */
const local = (url: string): RestRequest => request(url, 'localhost:8000');
const list = (meta: ListMeta) => new JsonText<ListMeta>('[]', meta);
const page = (number: number, size: number, raw = String(number)): Paging => ({ total: true, page: { number, size, raw } });
/** Express's `res.links`: `<url>; rel="name"` joined by ', '. */
const links = (base: string, rels: [string, number][]) => rels.map(([rel, n]) => `<${base}${n}>; rel="${rel}"`).join(', ');

describe('listHeaders', () => {
  it.each<[string, unknown]>([
    ['a plain array (in-process values)', [{ id: 1 }]],
    ['undefined', undefined],
    ['an object that looks like a JsonText', { text: '[]', meta: { paging: { total: true }, total: 1, returned: 1 } }],
  ])('sends nothing for %s', (_label, result) => {
    expect(listHeaders(result, local('/patients?_limit=1'))).toStrictEqual({});
  });

  it.each<[string, ListMeta, RestRequest]>([
    ['an unsliced list', { paging: { total: false }, total: 5, returned: 5 }, local('/patients')],
    ['_start alone', { paging: { total: false }, total: 5, returned: 5 }, local('/patients?_start=2')],
  ])('sends nothing for %s', (_label, meta, req) => {
    expect(listHeaders(list(meta), req)).toStrictEqual({});
  });

  it.each<[string, ListMeta]>([
    ['_limit', { paging: { total: true }, total: 57, returned: 3 }],
    ['_start/_end', { paging: { total: true }, total: 12, returned: 0 }],
    ['_limit=0 on an empty table', { paging: { total: true }, total: 0, returned: 0 }],
  ])('%s: X-Total-Count only, exposed', (_label, meta) => {
    expect(listHeaders(list(meta), local('/patients?_limit=3'))).toStrictEqual({
      'x-total-count': String(meta.total),
      'access-control-expose-headers': 'X-Total-Count',
    });
  });

  const base = 'http://localhost:8000/patients?_page=';
  it.each<[string, string, ListMeta, string]>([
    [
      'page 1 of 3: no prev',
      '/patients?_page=1',
      { paging: page(1, 10), total: 25, returned: 10 },
      links(base, [
        ['first', 1],
        ['next', 2],
        ['last', 3],
      ]),
    ],
    [
      'page 2 of 3: all four',
      '/patients?_page=2',
      { paging: page(2, 10), total: 25, returned: 10 },
      links(base, [
        ['first', 1],
        ['prev', 1],
        ['next', 3],
        ['last', 3],
      ]),
    ],
    [
      'page 3 of 3 (partial): no next',
      '/patients?_page=3',
      { paging: page(3, 10), total: 25, returned: 5 },
      links(base, [
        ['first', 1],
        ['prev', 2],
        ['last', 3],
      ]),
    ],
    [
      'last page exactly full: no next',
      '/patients?_page=2',
      { paging: page(2, 5), total: 10, returned: 5 },
      links(base, [
        ['first', 1],
        ['prev', 1],
        ['last', 2],
      ]),
    ],
    [
      'first page of two full ones',
      '/patients?_page=1',
      { paging: page(1, 5), total: 10, returned: 5 },
      links(base, [
        ['first', 1],
        ['next', 2],
        ['last', 2],
      ]),
    ],
    ['a page past the end (0 rows): empty Link', '/patients?_page=4', { paging: page(4, 10), total: 25, returned: 0 }, ''],
    ['an empty table: empty Link', '/patients?_page=1', { paging: page(1, 10), total: 0, returned: 0 }, ''],
    ['one page holds every row: empty Link', '/patients?_page=1', { paging: page(1, 10), total: 7, returned: 7 }, ''],
    [
      'page size 1',
      '/patients?_page=2',
      { paging: page(2, 1), total: 3, returned: 1 },
      links(base, [
        ['first', 1],
        ['prev', 1],
        ['next', 3],
        ['last', 3],
      ]),
    ],
  ])('_page, %s', (_label, url, meta, link) => {
    expect(listHeaders(list(meta), local(url))).toStrictEqual({
      'x-total-count': String(meta.total),
      'access-control-expose-headers': 'X-Total-Count, Link',
      link,
    });
  });

  it.each<[string, RestRequest, Paging, string[]]>([
    [
      'other parameters are kept as sent',
      local('/patients?name_like=a%20b&_page=2&_limit=5&_sort=age'),
      page(2, 5),
      [
        'http://localhost:8000/patients?name_like=a%20b&_page=1&_limit=5&_sort=age',
        'http://localhost:8000/patients?name_like=a%20b&_page=1&_limit=5&_sort=age',
        'http://localhost:8000/patients?name_like=a%20b&_page=3&_limit=5&_sort=age',
        'http://localhost:8000/patients?name_like=a%20b&_page=6&_limit=5&_sort=age',
      ],
    ],
    [
      'https and the public host (trusted proxy)',
      request('/patients?_page=2&_limit=5', 'api.example.org', 'https'),
      page(2, 5),
      [
        'https://api.example.org/patients?_page=1&_limit=5',
        'https://api.example.org/patients?_page=1&_limit=5',
        'https://api.example.org/patients?_page=3&_limit=5',
        'https://api.example.org/patients?_page=6&_limit=5',
      ],
    ],
    [
      'no Host header: localhost',
      request('/patients?_limit=5&_page=2', undefined),
      page(2, 5),
      [
        'http://localhost/patients?_limit=5&_page=1',
        'http://localhost/patients?_limit=5&_page=1',
        'http://localhost/patients?_limit=5&_page=3',
        'http://localhost/patients?_limit=5&_page=6',
      ],
    ],
    [
      '_page=0 (page 1): its value is replaced',
      local('/patients?_page=0&_limit=5'),
      page(1, 5, '0'),
      [
        'http://localhost:8000/patients?_page=1&_limit=5',
        'http://localhost:8000/patients?_page=2&_limit=5',
        'http://localhost:8000/patients?_page=6&_limit=5',
      ],
    ],
    [
      '_page=abc (page 1): its value is replaced',
      local('/patients?_limit=5&_page=abc'),
      page(1, 5, 'abc'),
      [
        'http://localhost:8000/patients?_limit=5&_page=1',
        'http://localhost:8000/patients?_limit=5&_page=2',
        'http://localhost:8000/patients?_limit=5&_page=6',
      ],
    ],
    [
      '_page=1.0 (page 1): its value is replaced',
      local('/patients?_page=1.0&_limit=5'),
      page(1, 5, '1.0'),
      [
        'http://localhost:8000/patients?_page=1&_limit=5',
        'http://localhost:8000/patients?_page=2&_limit=5',
        'http://localhost:8000/patients?_page=6&_limit=5',
      ],
    ],
    [
      '_page=%32 (percent-encoded 2): its value is replaced',
      local('/patients?_page=%32&_limit=5'),
      page(2, 5, '2'),
      [
        'http://localhost:8000/patients?_page=1&_limit=5',
        'http://localhost:8000/patients?_page=1&_limit=5',
        'http://localhost:8000/patients?_page=3&_limit=5',
        'http://localhost:8000/patients?_page=6&_limit=5',
      ],
    ],
  ])('Link URLs: %s', (_label, req, paging, urls) => {
    const headers = listHeaders(list({ paging, total: 30, returned: 5 }), req);
    const found = [...(headers.link ?? '').matchAll(/<([^>]*)>/g)].map((m) => m[1]);
    expect(found).toStrictEqual(urls);
  });
});

describe('locationOf', () => {
  it.each<[string, RestRequest, Record<string, string>]>([
    [
      'absolute with a host',
      request('/patients', 'localhost:8000'),
      { location: 'http://localhost:8000/patients/7', 'access-control-expose-headers': 'Location' },
    ],
    [
      'https behind a proxy',
      request('/patients', 'api.example.org', 'https'),
      { location: 'https://api.example.org/patients/7', 'access-control-expose-headers': 'Location' },
    ],
    ['relative without a host', request('/patients', undefined), { location: '/patients/7', 'access-control-expose-headers': 'Location' }],
    ['relative with an empty host', request('/patients', ''), { location: '/patients/7', 'access-control-expose-headers': 'Location' }],
  ])('%s', (_label, req, headers) => {
    expect(locationOf('/patients')({ id: 7, name: 'Ada Byron' }, req)).toStrictEqual(headers);
  });
});
