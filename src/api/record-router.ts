import { z } from 'zod';
import { idInput, idParam } from '../core/id-param.ts';
import { jsonServerListInput, parseJsonServerQuery } from '../core/json-server-query.ts';
import { JsonText, valuesOrJsonText } from '../core/json-text.ts';
import { createRecordService, type RecordService } from '../core/record-service.ts';
import type { Row } from '../core/record-sql.ts';
import type { DefinedResource, Fields } from '../core/resource.ts';
import { type SearchValues, searchInput, searchOutput, searchToListQuery } from '../core/search-input.ts';
import type { SqlClient } from '../db/sql-client.ts';
import type { Context } from './context.ts';
import { type ListMeta, listHeaders, locationOf } from './rest-headers.ts';
import { protectedProcedure as procedure, router } from './trpc.ts';

export interface RecordRouterOptions {
  /** The REST collection path, e.g. `/patients` (items at `/patients/{id}`). */
  path: `/${string}`;
  /** How the OpenAPI summaries name one record and several: `{ one: 'patient', many: 'patients' }`. */
  noun: { one: string; many: string };
}

/**
 * The procedures of a resource, from its descriptor: `list` (json-server's query syntax),
 * `search` (its typed twin), `byId`, `create`, `replace`, `update`, `delete`. Every procedure with
 * `openapi` meta is also served as json-server-compatible REST under `path`. Procedures only
 * translate: input to a call of the resource's service (core/record-service.ts), its result to
 * the answer; the REST status and headers are declared in `meta.rest` and applied by the REST
 * adapter.
 */
export function recordRouter<const F extends Fields>(r: DefinedResource<F>, { path, noun }: RecordRouterOptions) {
  type Output = z.infer<typeof r.output>;
  // The output schema has no transforms (what goes in comes out): typed so, a generic resolver can
  // return rows for it.
  const output = r.output as unknown as z.ZodType<Output, Output>;
  /** One service per database (the service holds the statement groups of its pool). */
  const services = new WeakMap<SqlClient, RecordService<Row, Row>>();
  const service = (ctx: Context) => {
    const known = services.get(ctx.db.sql);
    if (known) return known;
    const created = createRecordService<Row, Row>(ctx.db.sql, r);
    services.set(ctx.db.sql, created);
    return created;
  };
  // The service works with plain rows; the schemas (validated on the way in and out) type them.
  // (`T`, the resolver's return type for the output schema, is inferred from where it is used.)
  const one = <T = Output>(row: Promise<Row>) => row as Promise<T>;
  /** A validated id-plus-fields input, split (the path's id and the body's fields). */
  const split = (input: unknown) => {
    const { id, ...fields } = input as { id: number | null } & Row;
    return [id, fields] as const;
  };
  const tags = [noun.many];
  const item = `${path}/{id}` as const;
  const openapi = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', at: `/${string}`, summary: string, description: string) => ({
    openapi: { method, path: at, tags, summary, description, protect: true },
  });

  return router({
    list: procedure
      .meta({
        ...openapi(
          'GET',
          path,
          `List ${noun.many} (json-server query syntax)`,
          `Without parameters: every ${noun.one}, ordered by id. Filters, q, _sort/_order and _page/_limit/_start/_end work as in json-server 0.17.4; ` +
            'when slicing, X-Total-Count (and Link for _page) are sent and exposed through Access-Control-Expose-Headers.',
        ),
        rest: { headers: listHeaders },
      })
      .input(jsonServerListInput(r))
      .output(valuesOrJsonText(z.array(output)))
      .query(async ({ ctx, input }) => {
        const { query, paging } = parseJsonServerQuery(r, input ?? {});
        if (ctx.results === 'values') return (await service(ctx).list(query)).items as Output[];
        // The page as PostgreSQL serialised it; the REST adapter builds the paging headers from `meta`.
        const { json, returned, total } = await service(ctx).listJson(query);
        return new JsonText<ListMeta>(json, { paging, total: total ?? returned, returned }) as unknown as Output[];
      }),

    search: procedure
      .input(searchInput(r))
      .output(searchOutput(output))
      .query(async ({ ctx, input }) => {
        const { items, total } = await service(ctx).list(searchToListQuery(input as SearchValues));
        return { items: items as Output[], total: total ?? items.length };
      }),

    byId: procedure
      .meta(openapi('GET', item, `Get one ${noun.one}`, `404 \`{}\` when no ${noun.one} has this id.`))
      .input(idInput)
      .output(output)
      .query(({ ctx, input }) => one(service(ctx).byId(input.id))),

    create: procedure
      .meta({
        ...openapi('POST', path, `Create a ${noun.one}`, `Responds 201 with the stored ${noun.one} and a Location header.`),
        rest: { successStatus: 201, headers: locationOf(path) },
      })
      .input(r.input)
      .output(output)
      .mutation(({ ctx, input }) => one(service(ctx).create(input as Row))),

    replace: procedure
      .meta(openapi('PUT', item, `Replace a ${noun.one}`, 'Every field is required; the id cannot change.'))
      .input(r.input.extend({ id: idParam }))
      .output(output)
      .mutation(({ ctx, input }) => one(service(ctx).replace(...split(input)))),

    update: procedure
      .meta(openapi('PATCH', item, `Change some fields of a ${noun.one}`, 'The id cannot change.'))
      .input(r.patch.extend({ id: idParam }))
      .output(output)
      .mutation(({ ctx, input }) => one(service(ctx).update(...split(input)))),

    delete: procedure
      .meta(openapi('DELETE', item, `Delete a ${noun.one}`, 'Responds 200 `{}` like json-server.'))
      .input(idInput)
      .output(z.object({}))
      .mutation(async ({ ctx, input }) => {
        await service(ctx).remove(input.id);
        return {};
      }),
  });
}
