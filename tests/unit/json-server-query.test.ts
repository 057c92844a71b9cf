/**
 * json-server 0.17.4's list query syntax read into a ListQuery (src/core/json-server-query.ts),
 * table-driven, with the patients resource. Values are what the REST adapter hands over: a string,
 * or an array of strings when a parameter is repeated.
 */
import { describe, expect, it } from 'vitest';
import { QueryError } from '../../src/core/errors.ts';
import { jsonServerListInput, type Paging, parseJsonServerQuery, type RawQuery } from '../../src/core/json-server-query.ts';
import type { Condition, ListQuery, SortKey } from '../../src/core/list-query.ts';
import { patients } from '../../src/patients/patient.fields.ts';

const parse = (raw: RawQuery) => parseJsonServerQuery(patients, raw);

/** What a query without sorting, search or slicing looks like, with these conditions. */
const unsliced = (where: Condition[]): { query: ListQuery; paging: Paging } => ({
  query: { where, sort: [], offset: 0, limit: null, withTotal: false },
  paging: { total: false },
});

describe('parseJsonServerQuery: filters', () => {
  it.each<[string, RawQuery, Condition[]]>([
    // Plain equality: typed for the column; a value whose text form no stored value can have matches nothing.
    ['id=1 is the int 1', { id: '1' }, [{ op: 'in', field: 'id', values: [1] }]],
    ['age=40 is the int 40', { age: '40' }, [{ op: 'in', field: 'age', values: [40] }]],
    ['age=0', { age: '0' }, [{ op: 'in', field: 'age', values: [0] }]],
    ['age=-5 (an int, even if out of the field range)', { age: '-5' }, [{ op: 'in', field: 'age', values: [-5] }]],
    ['age=040: String(40) is not "040"', { age: '040' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=+40', { age: '+40' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=4e1', { age: '4e1' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=" 40"', { age: ' 40' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=-0', { age: '-0' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=2147483648 (beyond int)', { age: '2147483648' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=-2147483648 (the smallest int)', { age: '-2147483648' }, [{ op: 'in', field: 'age', values: [-2147483648] }]],
    ['age=-2147483649 (below int)', { age: '-2147483649' }, [{ op: 'in', field: 'age', values: [] }]],
    ['age=2147483647 (int max)', { age: '2147483647' }, [{ op: 'in', field: 'age', values: [2147483647] }]],
    ['age="" (empty value)', { age: '' }, [{ op: 'in', field: 'age', values: [] }]],
    ['id=1.0', { id: '1.0' }, [{ op: 'in', field: 'id', values: [] }]],
    ['id=abc', { id: 'abc' }, [{ op: 'in', field: 'id', values: [] }]],
    ['name is kept as sent (spaces, case)', { name: ' Ada Byron' }, [{ op: 'in', field: 'name', values: [' Ada Byron'] }]],
    ['name="" is the empty string', { name: '' }, [{ op: 'in', field: 'name', values: [''] }]],
    ['patientID', { patientID: 'P100' }, [{ op: 'in', field: 'patientID', values: ['P100'] }]],
    ['gender is case-sensitive text', { gender: 'female' }, [{ op: 'in', field: 'gender', values: ['female'] }]],
    ['medicalCondition', { medicalCondition: 'Migraine' }, [{ op: 'in', field: 'medicalCondition', values: ['Migraine'] }]],
    ['lastVisit, a real date', { lastVisit: '2024-06-01' }, [{ op: 'in', field: 'lastVisit', values: ['2024-06-01'] }]],
    ['lastVisit=2024-02-29 (leap day)', { lastVisit: '2024-02-29' }, [{ op: 'in', field: 'lastVisit', values: ['2024-02-29'] }]],
    ['lastVisit=2024-02-30 (no such day)', { lastVisit: '2024-02-30' }, [{ op: 'in', field: 'lastVisit', values: [] }]],
    ['lastVisit=2023-02-29 (not a leap year)', { lastVisit: '2023-02-29' }, [{ op: 'in', field: 'lastVisit', values: [] }]],
    ['lastVisit=2024-13-01', { lastVisit: '2024-13-01' }, [{ op: 'in', field: 'lastVisit', values: [] }]],
    ['lastVisit=2024-6-1 (not the text form)', { lastVisit: '2024-6-1' }, [{ op: 'in', field: 'lastVisit', values: [] }]],
    ['lastVisit=0000-01-01 (no year 0)', { lastVisit: '0000-01-01' }, [{ op: 'in', field: 'lastVisit', values: [] }]],
    ['lastVisit=2024 (a prefix is not equal)', { lastVisit: '2024' }, [{ op: 'in', field: 'lastVisit', values: [] }]],

    // Repeated values are ORed; the ones no value can equal drop out.
    ['age=40&age=41&age=abc', { age: ['40', '41', 'abc'] }, [{ op: 'in', field: 'age', values: [40, 41] }]],
    ['name=A&name=B', { name: ['A', 'B'] }, [{ op: 'in', field: 'name', values: ['A', 'B'] }]],
    ['lastVisit repeated', { lastVisit: ['2024-02-30', '2024-03-01'] }, [{ op: 'in', field: 'lastVisit', values: ['2024-03-01'] }]],
    ['age[]=1&age[]=2 (bracket keys)', { 'age[]': ['1', '2'] }, [{ op: 'in', field: 'age', values: [1, 2] }]],
    ['name[]=x', { 'name[]': 'x' }, [{ op: 'in', field: 'name', values: ['x'] }]],
    ['age_gte[]=30', { 'age_gte[]': '30' }, [{ op: 'gte', field: 'age', value: 30 }]],
    ['a parameter with no string value is skipped', { age: [] }, []],

    // _ne: none of the values; a value no stored value can have excludes nothing.
    ['age_ne=40', { age_ne: '40' }, [{ op: 'notIn', field: 'age', values: [40] }]],
    ['age_ne repeated, with a non-int', { age_ne: ['40', 'abc', '41'] }, [{ op: 'notIn', field: 'age', values: [40, 41] }]],
    ['age_ne=040', { age_ne: '040' }, [{ op: 'notIn', field: 'age', values: [] }]],
    ['name_ne=x', { name_ne: 'x' }, [{ op: 'notIn', field: 'name', values: ['x'] }]],
    ['lastVisit_ne=2024-02-30', { lastVisit_ne: '2024-02-30' }, [{ op: 'notIn', field: 'lastVisit', values: [] }]],
    ['lastVisit_ne=2024-03-01', { lastVisit_ne: '2024-03-01' }, [{ op: 'notIn', field: 'lastVisit', values: ['2024-03-01'] }]],

    // _gte / _lte on ints: JavaScript's Number() of the raw text.
    ['age_gte=40', { age_gte: '40' }, [{ op: 'gte', field: 'age', value: 40 }]],
    ['age_lte=40.5 (not rounded here)', { age_lte: '40.5' }, [{ op: 'lte', field: 'age', value: 40.5 }]],
    ['age_gte="" is 0', { age_gte: '' }, [{ op: 'gte', field: 'age', value: 0 }]],
    ['age_lte=" " is 0', { age_lte: ' ' }, [{ op: 'lte', field: 'age', value: 0 }]],
    ['age_gte=abc matches nothing', { age_gte: 'abc' }, [{ op: 'none' }]],
    ['age_lte=0x10 is 16', { age_lte: '0x10' }, [{ op: 'lte', field: 'age', value: 16 }]],
    ['id_lte=1e3 is 1000', { id_lte: '1e3' }, [{ op: 'lte', field: 'id', value: 1000 }]],
    ['age_gte=-Infinity', { age_gte: '-Infinity' }, [{ op: 'gte', field: 'age', value: -Infinity }]],
    ['age_gte repeated: OR is the smallest bound', { age_gte: ['50', 'abc', '30'] }, [{ op: 'gte', field: 'age', value: 30 }]],
    ['age_lte repeated: OR is the largest bound', { age_lte: ['50', 'abc', '30'] }, [{ op: 'lte', field: 'age', value: 50 }]],
    ['age_gte repeated, numeric not textual order', { age_gte: ['9', '10'] }, [{ op: 'gte', field: 'age', value: 9 }]],
    ['age_gte repeated, all non-numeric', { age_gte: ['abc', 'x'] }, [{ op: 'none' }]],

    // _gte / _lte on text and dates: the raw string, compared in code-point order.
    ['name_gte=M', { name_gte: 'M' }, [{ op: 'gte', field: 'name', value: 'M' }]],
    ['name_gte repeated: smallest in code-point order', { name_gte: ['b', 'B', 'a'] }, [{ op: 'gte', field: 'name', value: 'B' }]],
    ['name_lte repeated: largest in code-point order', { name_lte: ['b', 'B', 'a'] }, [{ op: 'lte', field: 'name', value: 'b' }]],
    [
      'name_gte repeated: U+FF01 before U+1F600 in code points',
      { name_gte: ['\u{1F600}', '\uFF01'] },
      [{ op: 'gte', field: 'name', value: '\uFF01' }],
    ],
    [
      'name_lte repeated: U+1F600 after U+FF01 in code points',
      { name_lte: ['\uFF01', '\u{1F600}'] },
      [{ op: 'lte', field: 'name', value: '\u{1F600}' }],
    ],
    ['gender_lte=""', { gender_lte: '' }, [{ op: 'lte', field: 'gender', value: '' }]],
    ['lastVisit_gte=2024 (a partial date stays text)', { lastVisit_gte: '2024' }, [{ op: 'gte', field: 'lastVisit', value: '2024' }]],
    [
      'lastVisit_gte=2024-02-30 (kept: compared as text)',
      { lastVisit_gte: '2024-02-30' },
      [{ op: 'gte', field: 'lastVisit', value: '2024-02-30' }],
    ],
    ['lastVisit_lte repeated', { lastVisit_lte: ['2023-12', '2024-01-01'] }, [{ op: 'lte', field: 'lastVisit', value: '2024-01-01' }]],

    // _like: the JavaScript pattern, rewritten for PostgreSQL; repeated values ORed.
    ['name_like=ada', { name_like: 'ada' }, [{ op: 'regex', field: 'name', pattern: 'ada' }]],
    ['name_like with \\b word boundaries', { name_like: '\\bAda\\b' }, [{ op: 'regex', field: 'name', pattern: '\\yAda\\y' }]],
    ['name_like with \\B', { name_like: 'a\\Bd' }, [{ op: 'regex', field: 'name', pattern: 'a\\Yd' }]],
    ['name_like with an escaped backslash before b', { name_like: 'a\\\\b' }, [{ op: 'regex', field: 'name', pattern: 'a\\\\b' }]],
    ['name_like repeated', { name_like: ['^A', 'n$'] }, [{ op: 'regex', field: 'name', pattern: '(^A)|(n$)' }]],
    ['age_like (on the text form)', { age_like: '^4' }, [{ op: 'regex', field: 'age', pattern: '^4' }]],
    ['lastVisit_like', { lastVisit_like: '-06-' }, [{ op: 'regex', field: 'lastVisit', pattern: '-06-' }]],

    // Unknown fields: a plain parameter is ignored, an operator on one matches nothing.
    ['foo=bar is ignored', { foo: 'bar' }, []],
    ['Age=40 (field names are case-sensitive)', { Age: '40' }, []],
    ['toString=x (not an own field)', { toString: 'x' }, []],
    ['constructor=x', { constructor: 'x' }, []],
    ['foo_ne=1', { foo_ne: '1' }, [{ op: 'none' }]],
    ['foo_gte=1', { foo_gte: '1' }, [{ op: 'none' }]],
    ['foo_lte=1', { foo_lte: '1' }, [{ op: 'none' }]],
    ['foo_like=(', { foo_like: '(' }, [{ op: 'none' }]],
    ['AGE_gte=1', { AGE_gte: '1' }, [{ op: 'none' }]],
    ['_like=x (no field name)', { _like: 'x' }, [{ op: 'none' }]],
    ['age_ne_like=x (field "age_ne")', { age_ne_like: 'x' }, [{ op: 'none' }]],
    ['toString_like=x', { toString_like: 'x' }, [{ op: 'none' }]],

    // Reserved parameters are not filters.
    ['_embed, _expand, callback, _ and _delay are ignored', { _embed: 'x', _expand: 'y', callback: 'cb', _: '123', _delay: '100' }, []],
    ['_embed[]=x', { '_embed[]': 'x' }, []],

    // Several filters: one condition each, in parameter order.
    [
      'age=40&name_like=a&foo=x&age_lte=50',
      { age: '40', name_like: 'a', foo: 'x', age_lte: '50' },
      [
        { op: 'in', field: 'age', values: [40] },
        { op: 'regex', field: 'name', pattern: 'a' },
        { op: 'lte', field: 'age', value: 50 },
      ],
    ],
  ])('%s', (_label, raw, where) => {
    expect(parse(raw)).toStrictEqual(unsliced(where));
  });
});

describe('parseJsonServerQuery: q', () => {
  it.each<[string, RawQuery, string | undefined]>([
    ['q=ada', { q: 'ada' }, 'ada'],
    ['q keeps its case (lowered in SQL)', { q: 'Ada' }, 'Ada'],
    ['q="" is ignored', { q: '' }, undefined],
    ['repeated q: the first', { q: ['Ada', 'x'] }, 'Ada'],
    ['repeated q whose first is empty', { q: ['', 'x'] }, undefined],
    ['no q', {}, undefined],
  ])('%s', (_label, raw, q) => {
    const { query } = parse(raw);
    expect(query.where).toEqual([]);
    if (q === undefined) expect(query).not.toHaveProperty('q');
    else expect(query.q).toBe(q);
  });
});

describe('parseJsonServerQuery: _sort / _order', () => {
  it.each<[string, RawQuery, SortKey[]]>([
    ['_sort=name', { _sort: 'name' }, [{ field: 'name', desc: false }]],
    ['_sort=name&_order=desc', { _sort: 'name', _order: 'desc' }, [{ field: 'name', desc: true }]],
    [
      '_order is case-insensitive',
      { _sort: 'name,age', _order: 'DESC,Asc' },
      [
        { field: 'name', desc: true },
        { field: 'age', desc: false },
      ],
    ],
    [
      'fewer orders than fields: the rest ascending',
      { _sort: 'age,name', _order: 'desc' },
      [
        { field: 'age', desc: true },
        { field: 'name', desc: false },
      ],
    ],
    ['unknown fields are skipped, orders stay aligned', { _sort: 'bogus,name', _order: 'desc,desc' }, [{ field: 'name', desc: true }]],
    ['unknown field then order', { _sort: 'bogus,name', _order: 'desc,asc' }, [{ field: 'name', desc: false }]],
    ['field names are case-sensitive', { _sort: 'Name' }, []],
    ['an order other than desc is ascending', { _sort: 'name', _order: 'descending' }, [{ field: 'name', desc: false }]],
    [
      'repeated _sort: one list',
      { _sort: ['name', 'age'], _order: 'asc,desc' },
      [
        { field: 'name', desc: false },
        { field: 'age', desc: true },
      ],
    ],
    ['repeated _order: the first', { _sort: 'name', _order: ['desc', 'asc'] }, [{ field: 'name', desc: true }]],
    [
      'empty entries are skipped',
      { _sort: 'name,,age', _order: 'desc,desc,desc' },
      [
        { field: 'name', desc: true },
        { field: 'age', desc: true },
      ],
    ],
    [
      'every key is kept, id included',
      { _sort: 'lastVisit,id,name', _order: ',desc' },
      [
        { field: 'lastVisit', desc: false },
        { field: 'id', desc: true },
        { field: 'name', desc: false },
      ],
    ],
    ['_sort=""', { _sort: '' }, []],
    ['_order alone', { _order: 'desc' }, []],
    ['sort params are not filters', { _sort: 'name', _order: 'desc' }, [{ field: 'name', desc: true }]],
  ])('%s', (_label, raw, sort) => {
    const { query, paging } = parse(raw);
    expect(query.sort).toStrictEqual(sort);
    expect(query.where).toEqual([]);
    expect(paging).toStrictEqual({ total: false });
  });
});

describe('parseJsonServerQuery: slices', () => {
  const page = (number: number, size: number, raw: string): Paging => ({ total: true, page: { number, size, raw } });
  it.each<[string, RawQuery, { offset: number; limit: number | null }, Paging]>([
    ['no slice: everything', {}, { offset: 0, limit: null }, { total: false }],
    ['_page=1: page size 10', { _page: '1' }, { offset: 0, limit: 10 }, page(1, 10, '1')],
    ['_page=3', { _page: '3' }, { offset: 20, limit: 10 }, page(3, 10, '3')],
    ['_page=0 is page 1', { _page: '0' }, { offset: 0, limit: 10 }, page(1, 10, '0')],
    ['_page=-2 is page 1', { _page: '-2' }, { offset: 0, limit: 10 }, page(1, 10, '-2')],
    ['_page=abc is page 1', { _page: 'abc' }, { offset: 0, limit: 10 }, page(1, 10, 'abc')],
    ['_page=2.9 is page 2 (parseInt)', { _page: '2.9' }, { offset: 10, limit: 10 }, page(2, 10, '2.9')],
    ['_page="" is no paging', { _page: '' }, { offset: 0, limit: null }, { total: false }],
    ['repeated _page: the first', { _page: ['2', '3'] }, { offset: 10, limit: 10 }, page(2, 10, '2')],
    ['_page=2&_limit=5', { _page: '2', _limit: '5' }, { offset: 5, limit: 5 }, page(2, 5, '2')],
    ['_page with _limit=0: size 10', { _page: '2', _limit: '0' }, { offset: 10, limit: 10 }, page(2, 10, '2')],
    ['_page with _limit=abc: size 10', { _page: '2', _limit: 'abc' }, { offset: 10, limit: 10 }, page(2, 10, '2')],
    ['_page with _limit="": size 10', { _page: '1', _limit: '' }, { offset: 0, limit: 10 }, page(1, 10, '1')],
    ['_page with _limit=7.9: size 7', { _page: '3', _limit: '7.9' }, { offset: 14, limit: 7 }, page(3, 7, '3')],
    ['_page wins over _end', { _page: '2', _end: '5' }, { offset: 10, limit: 10 }, page(2, 10, '2')],
    ['_page ignores _start', { _page: '2', _start: '3', _limit: '4' }, { offset: 4, limit: 4 }, page(2, 4, '2')],
    ['_start=5&_end=8', { _start: '5', _end: '8' }, { offset: 5, limit: 3 }, { total: true }],
    ['_end=3', { _end: '3' }, { offset: 0, limit: 3 }, { total: true }],
    ['_end=0', { _end: '0' }, { offset: 0, limit: 0 }, { total: true }],
    ['_end before _start: nothing', { _start: '8', _end: '5' }, { offset: 8, limit: 0 }, { total: true }],
    ['_end wins over _limit', { _start: '2', _end: '6', _limit: '1' }, { offset: 2, limit: 4 }, { total: true }],
    ['_start="" is 0', { _start: '', _end: '4' }, { offset: 0, limit: 4 }, { total: true }],
    ['_start=5&_limit=3', { _start: '5', _limit: '3' }, { offset: 5, limit: 3 }, { total: true }],
    ['_limit=3', { _limit: '3' }, { offset: 0, limit: 3 }, { total: true }],
    ['_limit=0: nothing, with a total', { _limit: '0' }, { offset: 0, limit: 0 }, { total: true }],
    ['_limit=010 (leading zeros)', { _limit: '010' }, { offset: 0, limit: 10 }, { total: true }],
    ['_end="" falls through to _limit', { _end: '', _limit: '3' }, { offset: 0, limit: 3 }, { total: true }],
    ['_start alone is ignored', { _start: '5' }, { offset: 0, limit: null }, { total: false }],
    ['_limit at the 9-digit bound', { _limit: '999999999' }, { offset: 0, limit: 999_999_999 }, { total: true }],
  ])('%s', (_label, raw, slice, paging) => {
    const result = parse(raw);
    expect({ offset: result.query.offset, limit: result.query.limit }).toStrictEqual(slice);
    expect(result.paging).toStrictEqual(paging);
    expect(result.query.withTotal).toBe(paging.total);
    expect(result.query.where).toEqual([]);
  });

  it.each<[string, RawQuery, string]>([
    ['_limit=-1 with _page', { _page: '1', _limit: '-1' }, '_limit must not be negative'],
    ['_limit=-1', { _limit: '-1' }, '_limit must be a non-negative integer'],
    ['_limit=abc without _page', { _limit: 'abc' }, '_limit must be a non-negative integer'],
    ['_limit=1.5 without _page', { _limit: '1.5' }, '_limit must be a non-negative integer'],
    ['_limit beyond 9 digits', { _limit: '1000000000' }, '_limit must be a non-negative integer'],
    ['_start=abc with _limit', { _start: 'abc', _limit: '5' }, '_start must be a non-negative integer'],
    ['_start=abc with _end', { _start: 'abc', _end: '5' }, '_start must be a non-negative integer'],
    ['_start=abc alone', { _start: 'abc' }, '_start must be a non-negative integer'],
    ['_start=-1', { _start: '-1', _end: '5' }, '_start must be a non-negative integer'],
    ['_end=1e3', { _end: '1e3' }, '_end must be a non-negative integer'],
    ['_end=-1', { _end: '-1' }, '_end must be a non-negative integer'],
    ['_end=" 5"', { _end: ' 5' }, '_end must be a non-negative integer'],
    ['11 _like values for one field', { name_like: Array.from({ length: 11 }, (_, i) => `v${i}`) }, 'At most 10 _like values per field'],
    ['an invalid _like pattern', { name_like: '(SECRET' }, 'Invalid regular expression in a _like filter'],
    ['a back-reference', { name_like: '(SECRET)\\1' }, 'Back-references are not supported in a _like filter'],
    ['a lookahead', { name_like: 'SECRET(?=x)' }, 'Lookahead and lookbehind are not supported in a _like filter'],
    ['a _like pattern over 100 characters', { name_like: 'S'.repeat(101) }, 'A _like pattern may have at most 100 characters'],
  ])('400: %s', (_label, raw, message) => {
    let error: unknown;
    try {
      parse(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).message).toBe(message);
    expect((error as Error).message).not.toContain('SECRET');
  });

  it('10 _like values for one field are accepted', () => {
    const values = Array.from({ length: 10 }, (_, i) => `v${i}`);
    expect(parse({ name_like: values }).query.where).toStrictEqual([
      { op: 'regex', field: 'name', pattern: values.map((v) => `(${v})`).join('|') },
    ]);
  });
});

describe('parseJsonServerQuery: everything at once', () => {
  it('filters, search, sort and a page', () => {
    expect(
      parse({ age_gte: '30', name_like: '^a', q: 'mig', _sort: 'age,name', _order: 'desc', _page: '2', _limit: '5', _embed: 'x' }),
    ).toStrictEqual({
      query: {
        where: [
          { op: 'gte', field: 'age', value: 30 },
          { op: 'regex', field: 'name', pattern: '^a' },
        ],
        q: 'mig',
        sort: [
          { field: 'age', desc: true },
          { field: 'name', desc: false },
        ],
        offset: 5,
        limit: 5,
        withTotal: true,
      },
      paging: { total: true, page: { number: 2, size: 5, raw: '2' } },
    });
  });
});

describe('jsonServerListInput', () => {
  const schema = jsonServerListInput(patients);

  it('documents the five parameters of every field and the json-server controls', () => {
    const keys = Object.keys(schema.unwrap().shape);
    const expected = patients.names.flatMap((f) => [f, `${f}_ne`, `${f}_gte`, `${f}_lte`, `${f}_like`]);
    expect(keys).toStrictEqual([...expected, 'q', '_sort', '_order', '_page', '_limit', '_start', '_end']);
    expect(keys).toHaveLength(7 * 5 + 7);
  });

  it.each<[string, unknown, unknown]>([
    ['no input', undefined, undefined],
    ['an empty object', {}, {}],
    ['strings and string arrays', { age: '40', name_like: ['a', 'b'], _page: '1' }, { age: '40', name_like: ['a', 'b'], _page: '1' }],
    ['unknown keys are kept (ignored later)', { foo: 'x', 'age[]': ['1'], _embed: 'y' }, { foo: 'x', 'age[]': ['1'], _embed: 'y' }],
  ])('accepts %s', (_label, input, output) => {
    const result = schema.safeParse(input);
    expect(result.success).toBe(true);
    expect(result.data).toStrictEqual(output);
  });

  it.each<[string, unknown]>([
    ['a number for a field', { age: 40 }],
    ['null for a control', { _page: null }],
    ['an array of numbers', { age_gte: [1, 2] }],
    ['an object value', { q: { x: '1' } }],
    ['a string instead of an object', 'age=40'],
  ])('rejects %s', (_label, input) => {
    expect(schema.safeParse(input).success).toBe(false);
  });
});
