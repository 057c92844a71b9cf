import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { apiError } from '../errors.ts';
import { publicOrigin } from './forwarded.ts';
import { errorResponse, type HttpResponse, JSON_CONTENT_TYPE } from './types.ts';

const require = createRequire(import.meta.url);
const NOT_FOUND = apiError('NOT_FOUND', 'Not found');

/** Swagger UI assets served from the local swagger-ui-dist package: no CDN, works offline. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Health Management API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

const STATIC_HEADERS = { 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' };

/** Stands for the server URL in the generated document, so the document is generated once. */
const SERVER_URL_SLOT = 'openapi-server-url-slot';

/**
 * `/openapi.json` and the interactive `/docs` page. The document is generated and the assets are
 * read on first use, not at start-up (every worker would do it, most never serve them).
 *
 * `document(serverUrl)` makes the OpenAPI document with `servers: [{ url: serverUrl }]`. The URL
 * is `/` (relative to wherever the document was fetched), or behind a trusted proxy
 * (`trustProxy` > 0) the public `https://host` the client used: the document's JSON is kept cut at
 * the URL and joined around each request's, instead of being generated per origin.
 */
export function createDocsHandler(document: (serverUrl: string) => unknown, trustProxy = 0) {
  const dir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const cache = new Map<string, Buffer>();
  let around: [before: string, after: string] | undefined;
  let documentJson: string | undefined;

  const openApiJson = (headers: Record<string, string>): string => {
    if (!around) {
      const json = JSON.stringify(document(SERVER_URL_SLOT));
      const at = json.indexOf(JSON.stringify(SERVER_URL_SLOT));
      around = [json.slice(0, at), json.slice(at + SERVER_URL_SLOT.length + 2)];
      documentJson = `${around[0]}"/"${around[1]}`;
    }
    if (trustProxy <= 0) return documentJson as string;
    const { proto, host } = publicOrigin(headers, trustProxy);
    return host ? `${around[0]}${JSON.stringify(`${proto}://${host}`)}${around[1]}` : (documentJson as string);
  };

  /** `headers`: the request's, for the public origin (without them, the document says `/`). */
  return (method: string, path: string, headers: Record<string, string> = {}): HttpResponse => {
    if (method !== 'GET' && method !== 'HEAD') return errorResponse(NOT_FOUND);
    if (path === '/openapi.json') {
      return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE, 'cache-control': 'no-cache' }, body: openApiJson(headers) };
    }
    if (path === '/docs' || path === '/docs/') {
      return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', ...STATIC_HEADERS }, body: PAGE };
    }
    const name = path.slice('/docs/'.length);
    if (name === 'init.js') {
      return { status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', ...STATIC_HEADERS }, body: INIT };
    }
    const type = ASSETS[name];
    if (!type) return errorResponse(NOT_FOUND);
    let body = cache.get(name);
    if (!body) {
      body = readFileSync(join(dir, name));
      cache.set(name, body);
    }
    return { status: 200, headers: { 'content-type': type, ...STATIC_HEADERS }, body };
  };
}
