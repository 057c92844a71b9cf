import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errorResponse, JSON_CONTENT_TYPE, type HttpResponse } from './types.ts';

const require = createRequire(import.meta.url);

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

/**
 * `/openapi.json` and the interactive `/docs` page. The document is generated and the assets are
 * read on first use, not at start-up (every worker would do it, most never serve them).
 */
export function createDocsHandler(document: () => unknown) {
  const dir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const cache = new Map<string, Buffer>();
  let documentJson: string | undefined;

  return (method: string, path: string): HttpResponse => {
    if (method !== 'GET' && method !== 'HEAD') return errorResponse(404, 'NOT_FOUND', 'Not found');
    if (path === '/openapi.json') {
      return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE, 'cache-control': 'no-cache' }, body: (documentJson ??= JSON.stringify(document())) };
    }
    if (path === '/docs' || path === '/docs/') {
      return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', ...STATIC_HEADERS }, body: PAGE };
    }
    const name = path.slice('/docs/'.length);
    if (name === 'init.js') {
      return { status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', ...STATIC_HEADERS }, body: INIT };
    }
    const type = ASSETS[name];
    if (!type) return errorResponse(404, 'NOT_FOUND', 'Not found');
    let body = cache.get(name);
    if (!body) {
      body = readFileSync(join(dir, name));
      cache.set(name, body);
    }
    return { status: 200, headers: { 'content-type': type, ...STATIC_HEADERS }, body };
  };
}
