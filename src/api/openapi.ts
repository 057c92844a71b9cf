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
  // Versioned single-record answers (meta.rest.omit): REST sends the version as the ETag, not in
  // the body; its writes take If-Match and answer 412 when it is stale.
  for (const procedure of Object.values(router._def.procedures)) {
    const meta = (procedure as { _def: { meta?: Meta } })._def.meta;
    if (!meta?.openapi || !meta.rest?.omit) continue;
    const method = meta.openapi.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch';
    const operation = doc.paths?.[meta.openapi.path]?.[method] as { responses?: Responses; parameters?: unknown[] } | undefined;
    for (const response of Object.values(operation?.responses ?? {})) {
      const media = (response.content as Record<string, { schema?: { $ref?: string } }> | undefined)?.['application/json'];
      if (media?.schema?.$ref?.includes('/Versioned')) {
        media.schema = { $ref: media.schema.$ref.replace('/Versioned', '/') };
        response.headers = {
          ...(response.headers as object),
          ETag: {
            description: 'The version of the record (`"3"`): send it back as `If-Match` to write only that version',
            schema: { type: 'string' },
          },
        };
      }
    }
    if (method !== 'get' && method !== 'post') addIfMatch(operation);
  }
  for (const procedure of Object.values(router._def.procedures)) {
    const meta = (procedure as { _def: { meta?: Meta } })._def.meta;
    if (meta?.openapi?.method === 'DELETE')
      addIfMatch(doc.paths?.[meta.openapi.path]?.delete as { responses?: Responses; parameters?: unknown[] } | undefined);
  }
  for (const name of Object.keys(doc.components?.schemas ?? {})) {
    if (name.startsWith('Versioned') && !JSON.stringify(doc.paths).includes(`/${name}"`)) delete doc.components?.schemas?.[name];
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
  addEventStream(doc);
  return doc;
}

type Responses = Record<string, Record<string, unknown>>;

/**
 * `GET /patients/events` (http/events.ts) is served outside trpc-to-openapi (it streams): its
 * entry is written here, next to the procedures' (before `/patients/{id}`, which it shadows).
 */
function addEventStream(doc: Document) {
  const event = {
    eventId: 42,
    op: 'update',
    id: 1,
    patient: {
      id: 1,
      patientID: 'P001',
      name: 'Ada Byron',
      age: 36,
      gender: 'Female',
      medicalCondition: 'Asthma',
      lastVisit: '2024-05-01',
    },
  };
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: { type: 'object', properties: { message: { type: 'string' }, code: { type: 'string' } } } } },
  });
  const entry = {
    get: {
      tags: ['patients'],
      summary: 'Live changes of patients (Server-Sent Events)',
      description:
        "An addition to json-server's routes: a `text/event-stream` of every create, replace, update, delete and import, in commit order per patient. " +
        'Each event is `id: <eventId>` and `data: {"eventId", "op", "id", "patient"}` (`patient` is the record as it is now; absent once deleted). ' +
        "Reconnect with `Last-Event-ID` (a browser's EventSource does) to receive every missed event once, in order, then live ones. " +
        '`: ping` comments keep the stream alive. A client that falls too far behind is disconnected and resumes the same way.',
      security: [{ bearerAuth: [] }],
      parameters: [
        { name: 'id', in: 'query', required: false, description: "Only this patient's changes", schema: { type: 'integer', minimum: 1 } },
        {
          name: 'lastEventId',
          in: 'query',
          required: false,
          description: 'Resume after this event id (for clients that cannot send the header)',
          schema: { type: 'integer', minimum: 0 },
        },
        { name: 'Last-Event-ID', in: 'header', required: false, description: 'Resume after this event id', schema: { type: 'string' } },
      ],
      responses: {
        '200': {
          description: 'The stream; it stays open',
          content: { 'text/event-stream': { schema: { type: 'string' }, example: `id: 42\ndata: ${JSON.stringify(event)}\n\n` } },
        },
        '400': error('Invalid id or event id'),
        '401': error('Missing or invalid bearer token (when API_TOKENS is set)'),
      },
    },
  };
  const paths = doc.paths ?? {};
  const ordered: typeof paths = {};
  for (const [path, item] of Object.entries(paths)) {
    if (path === '/patients/{id}') ordered['/patients/events'] = entry as never;
    ordered[path] = item;
  }
  ordered['/patients/events'] ??= entry as never;
  doc.paths = ordered;
}

/**
 * The If-Match request header and its 412 answer, on a write that takes them. Over REST the
 * version comes only from If-Match: the procedure's `expectedVersion` input (tRPC's way) is left
 * out of the documented body and query, where Swagger UI would fill it in with a value.
 */
function addIfMatch(operation: { responses?: Responses; parameters?: unknown[]; requestBody?: unknown } | undefined) {
  if (!operation?.responses) return;
  const body = (
    operation.requestBody as
      | { content?: Record<string, { schema?: { properties?: Record<string, unknown>; required?: string[] } }> }
      | undefined
  )?.content?.['application/json']?.schema;
  if (body?.properties) delete body.properties.expectedVersion;
  operation.parameters = [
    ...(operation.parameters ?? []).filter((p) => (p as { name?: string }).name !== 'expectedVersion'),
    {
      name: 'If-Match',
      in: 'header',
      required: false,
      description: 'Write only if the record is still at this version (its ETag, e.g. `"3"`); otherwise 412 and nothing is written',
      schema: { type: 'string' },
    },
  ];
  operation.responses['412'] = {
    description: 'The record changed since the version in If-Match (or expectedVersion): nothing was written',
    content: {
      'application/json': {
        schema: { type: 'object', properties: { message: { type: 'string' }, code: { type: 'string', const: 'PRECONDITION_FAILED' } } },
        example: { message: 'The patient changed since the version given', code: 'PRECONDITION_FAILED' },
      },
    },
  };
}

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
