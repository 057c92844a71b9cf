import { generateOpenApiDocument } from 'trpc-to-openapi';
import { listHeaders } from './rest-headers.ts';
import type { AppRouter } from './router.ts';
import type { Meta } from './trpc.ts';

type Document = ReturnType<typeof generateOpenApiDocument>;

/**
 * The OpenAPI 3.1 document for the REST shim, generated from the tRPC procedures, then corrected
 * where trpc-to-openapi cannot know what the REST layer does: responses of procedures with
 * `meta.rest.successStatus` move from 200 to that status (with their Location header), the list's
 * json-server headers, 404's `{}`, the real shape of a 400's `issues`, and /health's 503.
 * (Examples come from the zod schemas' `.meta()`; tests/openapi.test.ts checks all of it.)
 * `serverUrl` is the document's one `servers` entry: `/` (relative to the document), or the public
 * origin behind a trusted proxy (see http/docs.ts).
 */
export function createOpenApiDocument(router: AppRouter, version: string, serverUrl = '/'): Document {
  const doc = generateOpenApiDocument(router, {
    title: 'Health Management API',
    description: 'Patient records. REST routes follow json-server 0.17.4 conventions; the typed API is tRPC under /trpc.',
    version,
    baseUrl: serverUrl,
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'Required on patient routes when the server is started with API_TOKENS; otherwise the API is open.',
      },
    },
  });
  for (const procedure of Object.values(router._def.procedures)) {
    const meta = (procedure as { _def: { meta?: { openapi?: { method: string; path: string }; rest?: { successStatus?: number } } } })._def
      .meta;
    const status = meta?.rest?.successStatus;
    if (!meta?.openapi || !status || status === 200) continue;
    const operation = doc.paths?.[meta.openapi.path]?.[meta.openapi.method.toLowerCase() as 'post'];
    const responses = operation?.responses as Record<string, Record<string, unknown>> | undefined;
    if (!responses?.['200']) continue;
    responses[String(status)] = {
      ...responses['200'],
      headers: {
        // locationOf (rest-headers.ts) builds it from the request's host (the public one behind TRUST_PROXY).
        Location: { description: 'Absolute URL of the created resource', schema: { type: 'string', format: 'uri' } },
        'Access-Control-Expose-Headers': exposeHeader('`Location`'),
      },
    };
    delete responses['200'];
  }
  // Each list's json-server headers (rest-headers.ts: listHeaders).
  for (const procedure of Object.values(router._def.procedures)) {
    const meta = (procedure as { _def: { meta?: Meta } })._def.meta;
    if (meta?.rest?.headers !== listHeaders || !meta.openapi) continue;
    const list = responsesOf(doc, meta.openapi.path, 'get');
    if (!list?.['200']) continue;
    list['200'].headers = {
      'X-Total-Count': {
        description: 'Number of matches before slicing; sent when `_page`, `_limit` or `_end` is given',
        schema: { type: 'integer', minimum: 0 },
      },
      Link: {
        description: 'URLs of the `first`, `prev`, `next` and `last` pages (RFC 8288); sent with `_page`',
        schema: { type: 'string' },
      },
      'Access-Control-Expose-Headers': exposeHeader('`X-Total-Count` (and `Link` with `_page`)'),
    };
  }
  // A missing patient (or route) answers json-server's `{}` (http/rest.ts), not the error object
  // trpc-to-openapi documents; a list is never "not found".
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { responses?: Responses }[]) {
      if (!operation?.responses?.['404']) continue;
      if (path.includes('{')) operation.responses['404'] = notFound();
      else delete operation.responses['404'];
    }
  }
  if (!JSON.stringify(doc.paths).includes('error.NOT_FOUND')) delete doc.components?.schemas?.['error.NOT_FOUND'];
  // A 400's `issues` are zod's issues as they are: `code`, `path`, `message` and more per code.
  const badRequest = doc.components?.schemas?.['error.BAD_REQUEST'] as { properties?: Record<string, unknown> } | undefined;
  if (badRequest?.properties?.issues) {
    badRequest.properties = {
      ...badRequest.properties,
      issues: {
        type: 'array',
        description: 'One entry per problem; `path` names the field',
        items: {
          type: 'object',
          properties: {
            code: { type: 'string' },
            path: { type: 'array', items: { type: ['string', 'integer'] } },
            message: { type: 'string' },
          },
          required: ['code', 'path', 'message'],
        },
        examples: [[{ code: 'too_big', path: ['age'], message: 'Too big: expected number to be <=150' }]],
      },
    };
  }
  const health = responsesOf(doc, '/health', 'get');
  if (health?.['200']) {
    const unhealthy = { status: 'unhealthy', database: 'disconnected', timestamp: '2024-06-01T12:00:00.000Z' };
    const content = health['200'].content as Record<string, Record<string, unknown>>;
    health['503'] = {
      ...health['200'],
      description: 'The database did not answer',
      // The Health schema's own example is the healthy answer.
      content: Object.fromEntries(Object.entries(content).map(([type, media]) => [type, { ...media, example: unhealthy }])),
    };
  }
  return doc;
}

type Responses = Record<string, Record<string, unknown>>;

function responsesOf(doc: Document, path: string, method: 'get' | 'post'): Responses | undefined {
  return doc.paths?.[path]?.[method]?.responses as Responses | undefined;
}

const notFound = () => ({
  description: 'No patient has this id: an empty object, as json-server answers',
  content: { 'application/json': { schema: { type: 'object', maxProperties: 0 }, example: {} } },
});

/** The CORS header that lets browser code read the headers above. */
const exposeHeader = (what: string) => ({
  description: `Lets browser code read ${what} (CORS)`,
  schema: { type: 'string' },
});
