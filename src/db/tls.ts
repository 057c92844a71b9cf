/**
 * TLS for connections to a PostgreSQL server, from DATABASE_URL's libpq parameters (`sslmode`,
 * `sslrootcert`) and DATABASE_CA_CERT, as node-postgres' `ssl` option.
 *
 * MikroORM keeps only host, port, user, password and database from its `clientUrl`, and
 * node-postgres gives `sslmode` a meaning of its own (`require` verifies everything): so the URL's
 * TLS parameters are read here, with libpq's meaning, and every connection the project opens to a
 * server gets the resulting option. Messages name DATABASE_URL and the mode, never the URL's value
 * (it holds a password) nor a file name taken from it.
 */
import { readFileSync } from 'node:fs';
import { connect as connectTcp, isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity, connect as connectTls, rootCertificates, type TLSSocket } from 'node:tls';
import pg from 'pg';
import { StartupError } from './startup-error.ts';

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** node-postgres' `ssl` option: false for a plain connection. */
export type PgSsl = false | ConnectionOptions;

export interface DatabaseTls {
  /** The sslmode in effect (after the defaults below), for messages. */
  mode: SslMode;
  /** The `ssl` option; for `prefer`, the one used when the server offers TLS (see resolveSsl). */
  ssl: PgSsl;
  host: string;
  port: number;
}

/** A TLS setting or TLS failure; its message says what to change and holds no value. */
export class DatabaseTlsError extends StartupError {
  override name = 'DatabaseTlsError';
}

/** libpq parameters this project cannot honour: refused rather than silently ignored. */
const UNSUPPORTED: Record<string, string> = {
  sslcert: 'client certificates (sslcert, sslkey) are not supported',
  sslkey: 'client certificates (sslcert, sslkey) are not supported',
  sslpassword: 'client certificates (sslcert, sslkey) are not supported',
  sslcrl: 'certificate revocation lists (sslcrl) are not supported',
  sslcrldir: 'certificate revocation lists (sslcrl) are not supported',
  ssl: 'use sslmode (disable, prefer, require, verify-ca, verify-full) instead of ssl',
};

/**
 * Reads the TLS settings from the URL and the optional CA text. Throws DatabaseTlsError for a
 * setting that cannot work (unknown sslmode, unreadable sslrootcert, ...).
 *
 * Defaults, as libpq: no sslmode means `prefer`; `sslrootcert=system` means the built-in CA list
 * and requires `verify-full`. One divergence: a CA given without an sslmode (sslrootcert or
 * DATABASE_CA_CERT) means `verify-full`, where libpq would verify the chain only and still fall
 * back to plain text: giving a CA says the server is to be verified.
 */
export function databaseTls(databaseUrl: string, caCert?: string): DatabaseTls {
  const url = new URL(databaseUrl);
  const params = url.searchParams;
  for (const name of Object.keys(UNSUPPORTED)) {
    if (params.has(name)) throw new DatabaseTlsError(`DATABASE_URL: ${UNSUPPORTED[name]}.`);
  }
  const requested = params.get('sslmode');
  const rootcert = params.get('sslrootcert');
  const system = rootcert === 'system';
  if (requested === 'allow') {
    // libpq's allow tries plain text first and TLS second, per connection: node-postgres cannot.
    throw new DatabaseTlsError('DATABASE_URL: sslmode=allow is not supported; use prefer (TLS when the server offers it) or disable.');
  }
  if (requested !== null && !(SSL_MODES as readonly string[]).includes(requested)) {
    throw new DatabaseTlsError(`DATABASE_URL: unknown sslmode; use one of ${SSL_MODES.join(', ')}.`);
  }
  const cas = [...(rootcert && !system ? [readRootCert(rootcert)] : []), ...(caCert ? [caCert] : [])];
  const mode = (requested as SslMode | null) ?? (system || cas.length > 0 ? 'verify-full' : 'prefer');
  if (system && mode !== 'verify-full') {
    throw new DatabaseTlsError(`DATABASE_URL: sslrootcert=system requires sslmode=verify-full (sslmode=${mode}).`);
  }
  if (mode === 'verify-ca' && cas.length === 0) {
    // Any certificate from a public CA would pass a chain check without the host name check.
    throw new DatabaseTlsError('DATABASE_URL: sslmode=verify-ca needs the CA: sslrootcert=<file> in DATABASE_URL, or DATABASE_CA_CERT.');
  }
  // A CA of one's own replaces the built-in list; with sslrootcert=system it is added to it.
  const ca = cas.length > 0 ? (system ? [...rootCertificates, ...cas] : cas) : undefined;
  // As MikroORM and node-postgres read the URL (an IPv6 address loses its brackets).
  const host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost';
  return { mode, ssl: sslOption(mode, ca, host), host, port: Number(url.port) || 5432 };
}

function readRootCert(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new DatabaseTlsError(`DATABASE_URL: cannot read the sslrootcert file (${typeof code === 'string' ? code : 'error'}).`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new DatabaseTlsError('DATABASE_URL: the sslrootcert file holds no PEM certificate (-----BEGIN CERTIFICATE-----).');
  }
  return pem;
}

/** Accepts any host name: the chain is still verified (rejectUnauthorized). */
const anyHostName = () => undefined;

/**
 * The node-postgres `ssl` option for a mode, libpq's meaning:
 * - disable: plain text.
 * - prefer, require: encrypted, certificate not checked; with a CA, the chain is verified (libpq
 *   does so when a root certificate is present), not the host name.
 * - verify-ca: chain verified against the CA, host name not.
 * - verify-full: chain and `host` verified (without a CA: Node's built-in list of public CAs plus
 *   NODE_EXTRA_CA_CERTS, as sslrootcert=system).
 */
function sslOption(mode: SslMode, ca: string[] | undefined, host: string): PgSsl {
  switch (mode) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
      return ca ? { rejectUnauthorized: true, ca, checkServerIdentity: anyHostName } : { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: anyHostName };
    case 'verify-full':
      // The name is checked against the URL's host explicitly: for an IP address node-postgres
      // sets no servername, and Node then checks the certificate against "localhost".
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) };
  }
}

/**
 * The `ssl` option to connect with. For `prefer`, asks the server once (an SSLRequest, nothing
 * else) whether it offers TLS and uses it if so, plain text if not: node-postgres cannot fall back
 * per connection as libpq does, so the answer holds for the life of the process. Rejects with the
 * network error when the server cannot be reached (the caller decides whether to wait).
 */
export async function resolveSsl(tls: DatabaseTls, timeoutMs: number): Promise<PgSsl> {
  if (tls.mode !== 'prefer') return tls.ssl;
  return (await serverOffersTls(tls.host, tls.port, timeoutMs)) ? tls.ssl : false;
}

/**
 * For one-shot tools (the MikroORM CLI): the `ssl` option, tried on one connection first so that a
 * TLS problem is reported as one (DatabaseTlsError), not as the driver's bare message. Any other
 * failure (server down, wrong password) is left for the tool to report as it always did.
 */
export async function checkedSsl(databaseUrl: string, caCert: string | undefined, timeoutMs = 5_000): Promise<PgSsl> {
  const tls = databaseTls(databaseUrl, caCert);
  let ssl = tls.ssl;
  try {
    ssl = await resolveSsl(tls, timeoutMs);
    const client = new pg.Client({ connectionString: connectionStringWithoutQuery(databaseUrl), ssl, connectionTimeoutMillis: timeoutMs });
    client.on('error', () => undefined);
    await client.connect();
    await client.end();
  } catch (error) {
    const failure = tlsFailure(error, tls.mode);
    if (failure) throw failure;
  }
  return ssl;
}

/**
 * The URL for node-postgres' `connectionString`, without its query: node-postgres would read
 * sslmode and sslrootcert itself, its own way, over the `ssl` option given next to it.
 */
export function connectionStringWithoutQuery(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.search = '';
  return url.toString();
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

function serverOffersTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port });
    let secure: TLSSocket | undefined;
    let offered = false;
    let settled = false;
    const finish = (result: boolean | Error, polite = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (polite && secure) {
        // end(), not destroy(): our last handshake message must reach the server.
        secure.end();
        setTimeout(() => secure?.destroy(), 1_000).unref();
      } else {
        secure?.destroy();
        socket.destroy();
      }
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    // Once the server has said yes, whatever happens next no longer changes the answer.
    const fail = (error: Error) => finish(offered || error);
    const timer = setTimeout(() => fail(Object.assign(new Error('timeout expired'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.on('error', fail);
    socket.once('close', () => fail(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' })));
    socket.once('data', (answer) => {
      if (answer[0] !== 0x53 /* S */) return finish(false); // N, or an error from a very old server
      offered = true;
      // Finish the handshake before closing, so the server sees a client that left rather than a
      // failed TLS negotiation, which it would log.
      secure = connectTls({ socket, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
      secure.once('secureConnect', () => finish(true, true));
      secure.on('error', () => finish(true));
    });
  });
}

/** OpenSSL verification codes for a certificate the CA list does not vouch for. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'CERT_REJECTED',
]);

/**
 * Why a connection failed, when the reason is TLS (configuration or certificates): waiting will
 * not help, the operator must change something. Undefined for anything else (network, auth, ...).
 */
export function tlsFailureReason(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (UNTRUSTED.has(code)) return 'server certificate not trusted';
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'server certificate does not match the host name';
      if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'server certificate expired or not yet valid';
      if (code.startsWith('ERR_SSL_')) return 'TLS handshake failed';
    }
    // node-postgres' own messages (no code), when the server answers an SSLRequest with no.
    if (e.message === 'The server does not support SSL connections') return 'server does not accept TLS';
    if (e.message === 'There was an error establishing an SSL connection') return 'server refused the TLS request';
    // pg_hba.conf: a `hostssl`-only server refusing a plain connection (28000, "... no encryption").
    if (code === '28000' && /no encryption|SSL off/.test(e.message)) return 'TLS is required by the server';
  }
  return undefined;
}

/** What to do about each reason. */
const ADVICE: Record<string, string> = {
  'server certificate not trusted': 'give the CA that signed it as sslrootcert=<file> in DATABASE_URL or as DATABASE_CA_CERT',
  'server certificate does not match the host name': 'connect by a name the certificate holds, or use sslmode=verify-ca',
  'server certificate expired or not yet valid': 'renew the server certificate or check the clock',
  'server does not accept TLS': 'enable TLS on the server, or use sslmode=prefer or disable',
  'TLS is required by the server': 'use sslmode=require or stronger',
};

/** The one-line message for a TLS failure: DATABASE_URL, the mode, the reason, what to do. */
function tlsFailureMessage(mode: SslMode, reason: string): string {
  const advice = ADVICE[reason];
  return `Cannot connect to the database named by DATABASE_URL (sslmode=${mode}): ${reason}${advice ? `; ${advice}` : ''}.`;
}

/** A TLS failure as a DatabaseTlsError, or undefined if `error` is not one. */
export function tlsFailure(error: unknown, mode: SslMode): DatabaseTlsError | undefined {
  const reason = tlsFailureReason(error);
  return reason ? new DatabaseTlsError(tlsFailureMessage(mode, reason)) : undefined;
}
