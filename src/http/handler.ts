import type { HttpRequest, HttpResponse } from './types.ts';

export interface Surfaces {
  trpc: (req: HttpRequest) => Promise<HttpResponse>;
  rest: (req: HttpRequest) => Promise<HttpResponse>;
  docs: (method: string, path: string, headers: Record<string, string>) => HttpResponse;
  /** Event streams (REST live updates) by path. */
  streams: ReadonlyMap<string, (req: HttpRequest) => Promise<HttpResponse>>;
}

/** Headers for every response that can carry patient data: never cached, never sniffed. */
const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/** Sends each request to the tRPC API, the docs, or the REST shim (which answers 404 for the rest). */
export function createRequestHandler({ trpc, rest, docs, streams }: Surfaces) {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const { path } = req;
    if (path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/')) {
      return docs(req.method, path, req.headers);
    }
    const stream = streams.get(path);
    const response = stream ? await stream(req) : path === '/trpc' || path.startsWith('/trpc/') ? await trpc(req) : await rest(req);
    Object.assign(response.headers, NO_STORE);
    return response;
  };
}
