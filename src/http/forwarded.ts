import { isIP } from 'node:net';

/**
 * What a reverse proxy in front of the service says about the original request: the scheme and
 * host the client used (for the absolute URLs the API sends: Location, Link, OpenAPI `servers`)
 * and the client's address (for the access log).
 *
 * Trust (TRUST_PROXY, `config.trustProxy`), like Express's `trust proxy` with a number:
 *
 * - `0`: X-Forwarded-* and Forwarded are ignored entirely; the scheme is `http` (this server does
 *   not terminate TLS), the host is the Host header, the client is the peer address.
 * - `n`: the n nearest hops are trusted. Each proxy appends to a list (`X-Forwarded-For: a, b, c`
 *   from a peer p: c was appended by p, b by the proxy before it...), so with n trusted hops the
 *   n-th entry from the right is the last one written by a trusted proxy; entries further left
 *   came from untrusted parties and are never read. X-Forwarded-Proto and X-Forwarded-Host are
 *   usually *set* to one value, and a list of them is read the same way. A list shorter than n
 *   gives its leftmost entry (every hop it records is trusted).
 * - `Infinity` (`TRUST_PROXY=true`): every hop, i.e. the leftmost entry.
 *
 * X-Forwarded-* come first: they are what nearly every proxy sets (nginx configs, Render, cloud
 * load balancers), while few remove a `Forwarded` header a client sent. Only when a request has
 * no X-Forwarded-Proto/-Host/-For at all does a `Forwarded` header (RFC 7239) decide: its n-th
 * element from the right gives `proto=`, `host=` and `for=`; a parameter missing from that
 * element, or a header that does not parse, gives the direct value. A proxy that sets only
 * `Forwarded` must remove a client's X-Forwarded-* (nginx: `proxy_set_header X-Forwarded-Host "";`).
 *
 * Values are checked before use: the scheme must be `http` or `https`, the host a host[:port]
 * (name, IPv4 or [IPv6]; no spaces, slashes, `@`...), the client an IP address (or RFC 7239's
 * `unknown`/`_obfuscated`). Anything else gives the direct value: no URL is built from garbage.
 */

export type Scheme = 'http' | 'https';

/** The scheme and host the client used, as far as the trusted proxies tell. */
export interface PublicOrigin {
  proto: Scheme;
  /** undefined when the request had no Host header and no trusted proxy named one. */
  host: string | undefined;
}

/** The public scheme and host of a request (plain `http` and its Host header when trustProxy is 0). */
export function publicOrigin(headers: Record<string, string>, trustProxy: number): PublicOrigin {
  const direct: PublicOrigin = { proto: 'http', host: headers.host };
  if (trustProxy <= 0) return direct;
  let proto: string | undefined;
  let host: string | undefined;
  if (usesForwarded(headers)) {
    const element = trustedForwarded(headers.forwarded!, trustProxy);
    proto = element?.proto;
    host = element?.host;
  } else {
    proto = trustedEntry(headers['x-forwarded-proto'], trustProxy);
    host = trustedEntry(headers['x-forwarded-host'], trustProxy);
  }
  proto = proto?.toLowerCase();
  return {
    proto: proto === 'https' || proto === 'http' ? proto : direct.proto,
    host: host !== undefined && HOST.test(host) ? host : direct.host,
  };
}

/** The client's address for the log: the peer, or what the trusted proxies say it was. */
export function clientAddress(headers: Record<string, string>, peer: string, trustProxy: number): string {
  if (trustProxy <= 0) return peer;
  const node = usesForwarded(headers)
    ? trustedForwarded(headers.forwarded!, trustProxy)?.for
    : trustedEntry(headers['x-forwarded-for'], trustProxy);
  return (node !== undefined && nodeAddress(node)) || peer;
}

/** RFC 7239's header decides only for a request without any X-Forwarded-* (see the top). */
const usesForwarded = (headers: Record<string, string>) =>
  headers.forwarded !== undefined &&
  headers['x-forwarded-proto'] === undefined &&
  headers['x-forwarded-host'] === undefined &&
  headers['x-forwarded-for'] === undefined;

/** host[:port]: a DNS name (underscores allowed, as in container names), IPv4, or a bracketed IPv6. */
const HOST = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The entry of a comma-separated list that the trusted hops wrote (see the top of this file). */
function trustedEntry(list: string | undefined, trustProxy: number): string | undefined {
  if (list === undefined) return undefined;
  // Empty list elements (`a, , b`) are not hops: HTTP's list syntax says to ignore them.
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return entries[Math.max(0, entries.length - trustProxy)];
}

function trustedForwarded(header: string, trustProxy: number): Record<string, string> | undefined {
  const elements = parseForwarded(header);
  return elements?.[Math.max(0, elements.length - trustProxy)];
}

/**
 * RFC 7239: elements separated by `,`, pairs by `;`, values a token or a quoted string (commas
 * inside quotes do not split). Lenient in one way: an unquoted value may contain `:` and `[]`
 * (`host=example.com:8443`), which some proxies send without the quotes the RFC asks for.
 * undefined when the header does not parse, or repeats a parameter within an element.
 */
function parseForwarded(header: string): Record<string, string>[] | undefined {
  const elements: Record<string, string>[] = [];
  // No prototype: a parameter named `__proto__` or `constructor` is just a parameter.
  let element = Object.create(null) as Record<string, string>;
  let i = 0;
  for (;;) {
    PAIR.lastIndex = i;
    const match = PAIR.exec(header);
    if (match) {
      const key = (match[1] as string).toLowerCase();
      if (key in element) return undefined;
      element[key] = match[2] ?? (match[3] as string).replace(/\\(.)/g, '$1');
      i = PAIR.lastIndex;
    }
    SEPARATOR.lastIndex = i;
    const separator = (SEPARATOR.exec(header) as RegExpExecArray)[1];
    i = SEPARATOR.lastIndex;
    if (separator === ';') continue;
    // An element ends; empty ones (`a, , b`) are not hops.
    if (Object.keys(element).length > 0) elements.push(element);
    element = Object.create(null) as Record<string, string>;
    if (separator === '') return i === header.length ? elements : undefined;
  }
}

const PAIR = /[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(?:([^\s",;]+)|"((?:[^"\\]|\\.)*)")/y;
/** Always matches (maybe empty): whitespace, then the separator if there is one. */
const SEPARATOR = /[ \t]*([,;]?)/y;

/** An IP address from a forwarded node (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:5678`, `::1`), or RFC 7239's unknown/obfuscated names. */
function nodeAddress(node: string): string | undefined {
  if (node === 'unknown' || /^_[A-Za-z0-9._-]{1,64}$/.test(node)) return node;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(node);
  const ip = bracketed ? (bracketed[1] as string) : /^[\d.]+:\d{1,5}$/.test(node) ? node.slice(0, node.lastIndexOf(':')) : node;
  return isIP(ip) ? ip : undefined;
}
