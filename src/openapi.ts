import { generateOpenApiDocument } from 'trpc-to-openapi';
import type { AppRouter } from './trpc/router.ts';

type Document = ReturnType<typeof generateOpenApiDocument>;

/**
 * The OpenAPI 3.1 document for the REST shim, generated from the tRPC procedures. trpc-to-openapi
 * has no per-route success status, so responses of procedures with `meta.rest.successStatus` are
 * moved from 200 to that status here, and the Location header is documented.
 */
export function createOpenApiDocument(router: AppRouter, version: string): Document {
  const doc = generateOpenApiDocument(router, {
    title: 'Health Management API',
    description:
      'Patient records. REST routes follow json-server 0.17.4 conventions; the typed API is tRPC under /trpc.',
    version,
    baseUrl: '/',
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'Required on patient routes when the server is started with API_TOKENS; otherwise the API is open.',
      },
    },
  });
  for (const procedure of Object.values(router._def.procedures)) {
    const meta = (procedure as { _def: { meta?: { openapi?: { method: string; path: string }; rest?: { successStatus?: number } } } })._def.meta;
    const status = meta?.rest?.successStatus;
    if (!meta?.openapi || !status || status === 200) continue;
    const operation = doc.paths?.[meta.openapi.path]?.[meta.openapi.method.toLowerCase() as 'post'];
    const responses = operation?.responses as Record<string, Record<string, unknown>> | undefined;
    if (!responses?.['200']) continue;
    responses[String(status)] = {
      ...responses['200'],
      headers: { Location: { description: 'Path of the created resource', schema: { type: 'string' } } },
    };
    delete responses['200'];
  }
  const health = doc.paths?.['/health']?.get?.responses as Record<string, unknown> | undefined;
  if (health?.['200']) health['503'] = { ...(health['200'] as object), description: 'The database did not answer' };
  return doc;
}
