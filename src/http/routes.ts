/**
 * The route template a request is logged under: never a raw path or query value, which could
 * carry patient data (an id is not logged either, only `:id`).
 */
export function routeTemplate(path: string): string {
  if (path === '/patients' || path === '/patients/') return '/patients';
  if (/^\/patients\/[^/]+\/?$/.test(path)) return '/patients/:id';
  if (path === '/health' || path === '/openapi.json' || path === '/docs' || path === '/docs/') return path;
  if (path.startsWith('/docs/')) return '/docs/*';
  if (path.startsWith('/trpc/')) {
    const procedures = path.slice('/trpc/'.length);
    return /^[A-Za-z0-9_.,]{1,200}$/.test(procedures) ? path : '/trpc/*';
  }
  return '*';
}
