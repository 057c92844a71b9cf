/**
 * The route template a request is logged under comes from the router (procedure names and REST
 * paths): never a raw path segment or query value, which could carry patient data.
 */
import { describe, expect, it } from 'vitest';
import { appRouter } from '../../src/api/router.ts';
import { createRouteTemplate } from '../../src/http/route-template.ts';

const template = createRouteTemplate(appRouter._def.procedures, ['/patients/events']);

describe('createRouteTemplate', () => {
  it.each([
    ['/patients', '/patients'],
    ['/patients/', '/patients'],
    ['/patients/42', '/patients/:id'],
    ['/patients/Jane%20Doe', '/patients/:id'],
    ['/patients/42/', '/patients/:id'],
    ['/patients/42/history', '/patients/:id/history'],
    ['/patients/42/history/1', '*'],
    ['/patients/events', '/patients/events'],
    ['/patients/events/', '/patients/:id'],
    ['/health', '/health'],
    ['/openapi.json', '/openapi.json'],
    ['/docs', '/docs'],
    ['/docs/swagger-ui.css', '/docs/*'],
    ['/trpc/patient.list', '/trpc/patient.list'],
    ['/trpc/patient.list,patient.byId', '/trpc/patient.list,patient.byId'],
    ['/trpc/patient.SECRET', '/trpc/*'],
    ['/trpc/patient.list,SECRET', '/trpc/*'],
    [`/trpc/${Array.from({ length: 21 }, () => 'health').join(',')}`, '/trpc/*'],
    ['/SECRET', '*'],
    ['/patientsSECRET', '*'],
  ])('%s is logged as %s', (path, expected) => {
    expect(template(path)).toBe(expected);
  });
});
