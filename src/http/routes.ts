/**
 * The route template a request is logged under: never a raw path or query value, which could
 * carry patient data (an id is logged as `:id`, an unknown tRPC path as `/trpc/*`).
 */
export function createRouteTemplate(procedureNames: Iterable<string>) {
  const known = new Set(procedureNames);
  return (path: string): string => {
    if (path === '/patients' || path === '/patients/') return '/patients';
    if (/^\/patients\/[^/]+\/?$/.test(path)) return '/patients/:id';
    if (path === '/health' || path === '/openapi.json' || path === '/docs' || path === '/docs/') return path;
    if (path.startsWith('/docs/')) return '/docs/*';
    if (path.startsWith('/trpc/')) {
      const names = path.slice('/trpc/'.length).split(',');
      return names.length <= 20 && names.every((n) => known.has(n)) ? path : '/trpc/*';
    }
    return '*';
  };
}

export type RouteTemplate = ReturnType<typeof createRouteTemplate>;
