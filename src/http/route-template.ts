/**
 * The route template a request is logged under: never a raw path or query value, which could
 * carry patient data (an id is logged as `:id`, an unknown tRPC path as `/trpc/*`). Built from
 * the router: its procedure names and the REST paths of their `meta.openapi`, and `exact` paths.
 */
export function createRouteTemplate(procedures: Record<string, unknown>, exact: readonly string[] = []) {
  const known = new Set(Object.keys(procedures));
  const fixed = new Set(exact);
  const rest: { pattern: RegExp; template: string }[] = [];
  for (const procedure of Object.values(procedures)) {
    const path = (procedure as { _def?: { meta?: { openapi?: { path?: string } } } })._def?.meta?.openapi?.path;
    if (!path || rest.some((r) => r.template === templateOf(path))) continue;
    const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
    rest.push({ pattern, template: templateOf(path) });
  }
  return (path: string): string => {
    // Paths served outside the procedures (the event stream), before `/patients/:id` claims them.
    if (fixed.has(path)) return path;
    for (const r of rest) if (r.pattern.test(path)) return r.template;
    if (path === '/openapi.json' || path === '/docs' || path === '/docs/') return path;
    if (path.startsWith('/docs/')) return '/docs/*';
    if (path.startsWith('/trpc/')) {
      const names = path.slice('/trpc/'.length).split(',');
      return names.length <= 20 && names.every((n) => known.has(n)) ? path : '/trpc/*';
    }
    return '*';
  };
}

/** `/patients/{id}` is logged as `/patients/:id`. */
const templateOf = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

export type RouteTemplate = ReturnType<typeof createRouteTemplate>;
