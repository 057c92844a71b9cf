import { tracked } from '@trpc/server';
import { z } from 'zod';
import { historyEvent, historyListInput, historyOutput } from '../core/history-schemas.ts';
import type { HistoryEvent } from '../core/history-sql.ts';
import { idInput, idParam } from '../core/id-param.ts';
import { jsonServerListInput, parseJsonServerQuery, parseSlice } from '../core/json-server-query.ts';
import { JsonText, valuesOrJsonText } from '../core/json-text.ts';
import { createRecordService, type RecordService } from '../core/record-service.ts';
import type { Audit, RecordJson, Row } from '../core/record-sql.ts';
import { type DefinedResource, type Fields, INT_MAX } from '../core/resource.ts';
import { type SearchValues, searchInput, searchOutput, searchToListQuery } from '../core/search-input.ts';
import type { SqlClient } from '../db/sql-client.ts';
import { type ChangeMessage, eventIdParam, openChanges } from './changes.ts';
import type { Context } from './context.ts';
import { allHeaders, etagOf, type ListMeta, listHeaders, locationOf } from './rest-headers.ts';
import { protectedProcedure as procedure, router } from './trpc.ts';

/** How optimistic concurrency is documented on the writes. */
const IF_MATCH =
  'With `If-Match: "<version>"` (the ETag of a previous answer) it applies only if the record is still at that version, else 412 and nothing is written; without it, the last write wins (json-server).';

export interface RecordRouterOptions<One extends string = string> {
  /** The REST collection path, e.g. `/patients` (items at `/patients/{id}`). */
  path: `/${string}`;
  /**
   * How the OpenAPI summaries name one record and several: `{ one: 'patient', many: 'patients' }`;
   * `one` is also the record's key in live change events.
   */
  noun: { one: One; many: string };
}

/**
 * The procedures of a resource, from its descriptor: `list` (json-server's query syntax),
 * `search` (its typed twin), `byId`, `create`, `replace`, `update`, `delete`. Every procedure with
 * `openapi` meta is also served as json-server-compatible REST under `path`. Procedures only
 * translate: input to a call of the resource's service (core/record-service.ts), its result to
 * the answer; the REST status and headers are declared in `meta.rest` and applied by the REST
 * adapter.
 */
export function recordRouter<const F extends Fields, const One extends string>(
  r: DefinedResource<F>,
  { path, noun }: RecordRouterOptions<One>,
) {
  type Output = z.infer<typeof r.output>;
  // The output schema has no transforms (what goes in comes out): typed so, a generic resolver can
  // return rows for it.
  const output = r.output as unknown as z.ZodType<Output, Output>;
  type Versioned = z.infer<typeof r.versioned>;
  /** A single record with its version (REST sends the version as the ETag, not in the body). */
  const versioned = r.versioned as unknown as z.ZodType<Versioned, Versioned>;
  /** Optional optimistic concurrency: the version the client's change is based on. */
  const expectedVersion = { expectedVersion: z.number().int().min(0).optional() };
  /** One service per database (the service holds the statement groups of its pool). */
  const services = new WeakMap<SqlClient, RecordService<Row, Row>>();
  const service = (ctx: Context) => {
    const known = services.get(ctx.db.sql);
    if (known) return known;
    const created = createRecordService<Row, Row>(ctx.db.sql, r);
    services.set(ctx.db.sql, created);
    return created;
  };
  // The service works with plain rows; the schemas type them (inputs are validated; outputs too,
  // except PostgreSQL's JSON text, whose shape tests/procedures.test.ts checks).
  // (`T`, the resolver's return type for the output schema, is inferred from where it is used.)
  // With AUDIT_READS, each answer that carries a record is recorded (its id, never its data).
  const one =
    (ctx: Context, procedure: string) =>
    async <T = Output>(work: Promise<Row>): Promise<T> => {
      const row = await work;
      ctx.recordRead?.({ route: `${noun.one}.${procedure}`, patientIds: [row[r.idName] as number] });
      return row as T;
    };
  /**
   * The same for a record as PostgreSQL serialised it (no parse, no re-serialisation), for
   * transports: its text with the version, and without it for REST, which sends it as the ETag.
   */
  const oneText =
    (ctx: Context, procedure: string) =>
    async <T = Versioned>(work: Promise<RecordJson>): Promise<T> => {
      const { id, json, version } = await work;
      ctx.recordRead?.({ route: `${noun.one}.${procedure}`, patientIds: [id] });
      if (version === null) return new JsonText(json, {}) as T;
      return new JsonText(`${json.slice(0, -1)},"version":${version}}`, { version }, { keys: ['version'], text: json }) as T;
    };
  /** A write committed: live subscribers hear of it (live/live.ts). */
  const wrote = async <T>(ctx: Context, work: Promise<T>): Promise<T> => {
    const result = await work;
    ctx.live?.changed();
    return result;
  };
  /** With AUDIT_READS: a list answered `count` records. */
  const listed = (ctx: Context, procedure: string, count: number) => ctx.recordRead?.({ route: `${noun.one}.${procedure}`, count });
  /** A validated id-plus-fields input, split (the path's id and the body's fields). */
  const split = (input: unknown) => {
    const { id, expectedVersion, ...fields } = input as { id: number | null; expectedVersion?: number } & Row;
    return [id, fields, expectedVersion] as const;
  };
  /** Who made a change (the token's name, never the token) and in which request. */
  const audit = (ctx: Context): Audit => ({ actor: ctx.actor, requestId: ctx.requestId });
  const tags = [noun.many];
  const item = `${path}/{id}` as const;
  const openapi = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', at: `/${string}`, summary: string, description: string) => ({
    openapi: { method, path: at, tags, summary, description, protect: true },
  });

  // Every resource has the two history procedures; without a history table they answer 404.
  const history = {
    /** The typed history: newest first, `cursor` is the last event id of the previous page. */
    history: procedure
      .input(z.object({ id: idParam, cursor: z.number().int().positive().optional(), limit: z.number().int().min(1).max(100).default(20) }))
      .output(historyOutput)
      .query(async ({ ctx, input }) => {
        const page = { offset: 0, limit: input.limit + 1, ...(input.cursor !== undefined ? { before: input.cursor } : {}) };
        const { items } = await service(ctx).history(input.id, page);
        if (input.id !== null) ctx.recordRead?.({ route: `${noun.one}.history`, patientIds: [input.id] });
        const more = items.length > input.limit;
        const shown = more ? items.slice(0, input.limit) : items;
        return { items: shown, nextCursor: more ? (shown.at(-1)?.id ?? null) : null };
      }),

    /** The REST history (an addition to json-server's routes): json-server paging, newest first. */
    historyList: procedure
      .meta({
        ...openapi(
          'GET',
          `${item}/history` as `/${string}`,
          `The change history of a ${noun.one}`,
          `Newest first: each change with its operation, time, actor (the API token's name, or anonymous), request id and \`{ field: { from, to } }\`. ` +
            `_page/_limit/_start/_end page it as json-server does (X-Total-Count, Link). Works for a deleted ${noun.one}; 404 \`{}\` for an id that never existed.`,
        ),
        rest: { headers: listHeaders },
      })
      .input(historyListInput)
      .output(valuesOrJsonText(z.array(historyEvent)))
      .query(async ({ ctx, input }) => {
        const { id, ...raw } = input;
        const { offset, limit, paging } = parseSlice(raw);
        if (ctx.results === 'values') {
          const { items } = await service(ctx).history(id, { offset, limit });
          if (id !== null) ctx.recordRead?.({ route: `${noun.one}.historyList`, patientIds: [id] });
          return items;
        }
        const { json, returned, total } = await service(ctx).historyJson(id, { offset, limit });
        if (id !== null) ctx.recordRead?.({ route: `${noun.one}.historyList`, patientIds: [id] });
        return new JsonText<ListMeta>(json, { paging, total, returned }) as unknown as HistoryEvent[];
      }),
  };

  return router({
    ...history,
    /**
     * Live changes (Server-Sent Events; `httpSubscriptionLink` on the client). Each event is
     * `tracked` by its event id: a client that reconnects with its last one gets every event it
     * missed, once, in order (from the history table), then live ones.
     */
    onChange: procedure
      .input(z.object({ id: z.number().int().positive().max(INT_MAX).optional(), lastEventId: eventIdParam.nullish() }).optional())
      .subscription(async ({ ctx, input, signal }) => {
        // Opened before tRPC tells the client the stream is open (it awaits this resolver first).
        const events = await openChanges(ctx, r, noun.one, {
          after: input?.lastEventId ?? undefined,
          recordId: input?.id,
          signal: signal ?? new AbortController().signal,
          ...(ctx.disconnect ? { onOverflow: ctx.disconnect } : {}),
        });
        return (async function* () {
          for await (const event of events) {
            if (event) yield tracked(String(event.eventId), JSON.parse(event.json) as ChangeMessage<One, Output>);
          }
        })();
      }),

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
        if (ctx.results === 'values') {
          const { items } = await service(ctx).list(query);
          listed(ctx, 'list', items.length);
          return items as Output[];
        }
        // The page as PostgreSQL serialised it; the REST adapter builds the paging headers from `meta`.
        const { json, returned, total } = await service(ctx).listJson(query);
        listed(ctx, 'list', returned);
        return new JsonText<ListMeta>(json, { paging, total: total ?? returned, returned }) as unknown as Output[];
      }),

    search: procedure
      .input(searchInput(r))
      .output(valuesOrJsonText(searchOutput(output)))
      .query(async ({ ctx, input }) => {
        const query = searchToListQuery(input as SearchValues);
        if (ctx.results === 'values') {
          const { items, total } = await service(ctx).list(query);
          listed(ctx, 'search', items.length);
          return { items: items as Output[], total: total ?? items.length };
        }
        // The page as PostgreSQL serialised it, in the answer's envelope (no parse, no re-serialisation).
        const { json, returned, total } = await service(ctx).listJson(query);
        listed(ctx, 'search', returned);
        return new JsonText(`{"items":${json},"total":${total ?? returned}}`, { total, returned }) as unknown as {
          items: Output[];
          total: number;
        };
      }),

    byId: procedure
      .meta({
        ...openapi('GET', item, `Get one ${noun.one}`, `404 \`{}\` when no ${noun.one} has this id. ETag: its version.`),
        rest: { headers: etagOf, omit: ['version'] },
      })
      .input(idInput)
      .output(valuesOrJsonText(versioned) as typeof versioned)
      .query(({ ctx, input }) =>
        ctx.results === 'values' ? one(ctx, 'byId')(service(ctx).byId(input.id)) : oneText(ctx, 'byId')(service(ctx).byIdJson(input.id)),
      ),

    create: procedure
      .meta({
        ...openapi('POST', path, `Create a ${noun.one}`, `Responds 201 with the stored ${noun.one} and a Location header.`),
        rest: { successStatus: 201, headers: allHeaders(locationOf(path), etagOf), omit: ['version'] },
      })
      .input(r.input)
      .output(versioned)
      .mutation(({ ctx, input }) => one(ctx, 'create')(wrote(ctx, service(ctx).create(input as Row, audit(ctx))))),

    replace: procedure
      .meta({
        ...openapi('PUT', item, `Replace a ${noun.one}`, `Every field is required; the id cannot change. ${IF_MATCH}`),
        rest: { headers: etagOf, omit: ['version'] },
      })
      .input(r.input.extend({ id: idParam, ...expectedVersion }))
      .output(versioned)
      .mutation(({ ctx, input }) => {
        const [id, fields, expected] = split(input);
        return one(ctx, 'replace')(wrote(ctx, service(ctx).replace(id, fields, audit(ctx), expected)));
      }),

    update: procedure
      .meta({
        ...openapi('PATCH', item, `Change some fields of a ${noun.one}`, `The id cannot change. ${IF_MATCH}`),
        rest: { headers: etagOf, omit: ['version'] },
      })
      .input(r.patch.extend({ id: idParam, ...expectedVersion }))
      .output(versioned)
      .mutation(({ ctx, input }) => {
        const [id, fields, expected] = split(input);
        return one(ctx, 'update')(wrote(ctx, service(ctx).update(id, fields, audit(ctx), expected)));
      }),

    delete: procedure
      .meta(openapi('DELETE', item, `Delete a ${noun.one}`, `Responds 200 \`{}\` like json-server. ${IF_MATCH}`))
      .input(idInput.extend(expectedVersion))
      .output(z.object({}))
      .mutation(async ({ ctx, input }) => {
        await wrote(ctx, service(ctx).remove(input.id, audit(ctx), input.expectedVersion));
        return {};
      }),
  });
}
