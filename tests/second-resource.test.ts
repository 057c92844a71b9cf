/**
 * Nothing below the descriptor is patient-specific: a second resource (a `notes` table made here,
 * as its migration would) gets the whole API from its descriptor and one router line: json-server
 * list syntax, typed search, by-id reads, grouped creates, unique-value conflicts, updates and
 * deletes, and its own REST paths in the OpenAPI document.
 */
import { TRPCError } from '@trpc/server';
import { generateOpenApiDocument } from 'trpc-to-openapi';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordRouter } from '../src/api/record-router.ts';
import { createCaller, router } from '../src/api/trpc.ts';
import { defineResource, field } from '../src/core/resource.ts';
import { useOpenedTestDatabase } from './support/database.ts';

const notes = defineResource({
  name: 'Note',
  table: 'notes',
  updatedAtColumn: 'updated_at',
  fields: {
    id: field.id(),
    slug: field.text({ column: 'slug', property: 'slug', max: 20, unique: true, example: 'first' }),
    priority: field.int({ column: 'priority', property: 'priority', min: 1, max: 5, example: 3 }),
    due: field.date({ column: 'due_on', property: 'dueOn', example: '2025-01-31' }),
  },
});

const appRouter = router({ note: recordRouter(notes, { path: '/notes', noun: { one: 'note', many: 'notes' } }) });

const opened = useOpenedTestDatabase();
const api = () => createCaller(appRouter)({ db: opened.db, requestId: 't', authorized: true, actor: 'test', results: 'values' });

describe('a second resource from its descriptor alone', () => {
  beforeAll(async () => {
    await opened.tdb.query(
      `create table if not exists notes (
         id serial primary key, slug varchar(20) not null unique, priority int not null check (priority between 1 and 5),
         due_on date not null, updated_at timestamptz not null default now())`,
    );
  });

  it('creates (alone and grouped), reads, lists with json-server syntax and searches', async () => {
    await opened.tdb.query('truncate notes restart identity');
    const created = await Promise.all([1, 2, 3, 4].map((n) => api().note.create({ slug: `n${n}`, priority: n, due: `2025-0${n}-01` })));
    expect(created.map((n) => n.id).sort()).toEqual([1, 2, 3, 4]);
    expect(await api().note.byId({ id: 2 })).toEqual({ id: 2, slug: 'n2', priority: 2, due: '2025-02-01' });
    const listed = await api().note.list({ priority_gte: '2', _sort: 'due', _order: 'desc', _limit: '2' });
    expect(listed.map((n) => n.slug)).toEqual(['n4', 'n3']);
    expect((await api().note.list({ q: '2025-03' })).map((n) => n.slug)).toEqual(['n3']);
    const page = await api().note.search({
      filter: { slug: { like: '^n[12]$' } },
      sort: [{ field: 'priority', order: 'desc' }],
      offset: 0,
    });
    expect(page).toEqual({ total: 2, items: [expect.objectContaining({ slug: 'n2' }), expect.objectContaining({ slug: 'n1' })] });
  });

  it('keeps its rules: unique slug (409 naming the field), range (400), missing id (404); updates and deletes', async () => {
    await opened.tdb.query('truncate notes restart identity');
    const { id } = await api().note.create({ slug: 'one', priority: 1, due: '2025-01-01' });
    const conflict = await api()
      .note.create({ slug: 'one', priority: 2, due: '2025-01-02' })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(TRPCError);
    expect(conflict).toMatchObject({ code: 'CONFLICT', message: 'A note with this slug already exists' });
    await expect(api().note.update({ id, priority: 9 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await api().note.update({ id, priority: 4 })).toEqual({ id, slug: 'one', priority: 4, due: '2025-01-01' });
    await expect(api().note.byId({ id: 99 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'Note not found' });
    expect(await api().note.delete({ id })).toEqual({});
    expect(await api().note.list({})).toEqual([]);
  });

  it('publishes its REST routes in the OpenAPI document', () => {
    const doc = generateOpenApiDocument(appRouter, { title: 't', version: '1', baseUrl: '/' });
    expect(Object.keys(doc.paths ?? {}).sort()).toEqual(['/notes', '/notes/{id}', '/notes/{id}/history']);
    expect(doc.components?.schemas?.Note).toMatchObject({ required: ['id', 'slug', 'priority', 'due'] });
  });
});
