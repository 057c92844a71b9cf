import type { Paging } from '../core/json-server-query.ts';
import { JsonText } from '../core/json-text.ts';
import type { RestRequest } from './trpc.ts';

/**
 * The REST headers of json-server's routes, built by the REST adapter from a procedure's result
 * (declared in the procedure's `meta.rest.headers`).
 */

/** What a list's JsonText carries besides the body: its paging and counts. */
export interface ListMeta {
  paging: Paging;
  total: number;
  returned: number;
}

/** The list's X-Total-Count, Link and Access-Control-Expose-Headers. */
export function listHeaders(result: unknown, request: RestRequest): Record<string, string> {
  if (!(result instanceof JsonText)) return {};
  const { paging, total, returned } = result.meta as ListMeta;
  return jsonServerHeaders(paging, total, returned, request);
}

/** Several header builders as one; their Access-Control-Expose-Headers lists are joined. */
export const allHeaders =
  (...builders: ((result: unknown, request: RestRequest) => Record<string, string>)[]) =>
  (result: unknown, request: RestRequest): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const build of builders) {
      for (const [name, value] of Object.entries(build(result, request))) {
        out[name] = name === 'access-control-expose-headers' && out[name] ? `${out[name]}, ${value}` : value;
      }
    }
    return out;
  };

/** A single record's version as its (strong) ETag: `"3"`. */
export function etagOf(result: unknown): Record<string, string> {
  const version = result instanceof JsonText ? (result.meta as { version?: unknown }).version : (result as { version?: unknown }).version;
  return typeof version === 'number' ? { etag: `"${version}"`, 'access-control-expose-headers': 'ETag' } : {};
}

/** A created record's Location (absolute when the host is known, like json-server's). */
export const locationOf =
  (collection: string) =>
  (created: unknown, { host, proto }: RestRequest): Record<string, string> => {
    const path = `${collection}/${(created as { id: number }).id}`;
    return { location: host ? `${proto}://${host}${path}` : path, 'access-control-expose-headers': 'Location' };
  };

/**
 * X-Total-Count, Link and Access-Control-Expose-Headers exactly as json-server sends them.
 * `url` is the request's original path and query; `host` and `proto` what the client used (its
 * Host header and `http`, unless a trusted proxy said otherwise).
 */
function jsonServerHeaders(paging: Paging, total: number, returned: number, { url, host, proto }: RestRequest): Record<string, string> {
  if (!paging.total) return {};
  const headers: Record<string, string> = {
    'x-total-count': String(total),
    'access-control-expose-headers': paging.page ? 'X-Total-Count, Link' : 'X-Total-Count',
  };
  if (paging.page) headers.link = linkHeader(paging.page, total, returned, `${proto}://${host ?? 'localhost'}${url}`);
  return headers;
}

/** json-server's `getPage` + Express `res.links`: first, prev, next, last, absent rels left out. */
function linkHeader(page: NonNullable<Paging['page']>, total: number, returned: number, fullUrl: string): string {
  const { number, size } = page;
  if (returned === 0 || returned === total) return '';
  const last = Math.ceil(total / size);
  const rels: [string, number][] = [['first', 1]];
  if (number > 1) rels.push(['prev', number - 1]);
  if (number * size < total) rels.push(['next', number + 1]);
  rels.push(['last', last]);
  return rels.map(([rel, n]) => `<${pageUrl(fullUrl, page, n)}>; rel="${rel}"`).join(', ');
}

/**
 * json-server replaces the first textual `page=<current>`. For `_page=0` or `_page=abc` that text
 * is not in the URL and its links all point at the unchanged URL; we replace the `_page` value
 * itself instead, so the links work.
 */
function pageUrl(fullUrl: string, page: NonNullable<Paging['page']>, n: number): string {
  const current = `page=${page.number}`;
  if (String(page.number) === page.raw && fullUrl.includes(current)) return fullUrl.replace(current, `page=${n}`);
  return fullUrl.replace(/([?&]_page=)[^&]*/, `$1${n}`);
}
