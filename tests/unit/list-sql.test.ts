/**
 * The SQL a ListQuery becomes (src/core/list-sql.ts), for the patients resource: text and bindings
 * of each condition, the where clause's canonical order, sorting and slicing. No database.
 */
import { describe, expect, it } from 'vitest';
import type { Condition, ListQuery, SortKey } from '../../src/core/list-query.ts';
import { conditionSql, type Fragment, orderSql, pageSql, whereSql } from '../../src/core/list-sql.ts';
import { patients } from '../../src/patients/patient.fields.ts';

const query = (q: Partial<ListQuery> = {}): ListQuery => ({ where: [], sort: [], offset: 0, limit: null, withTotal: false, ...q });

/** json-server's `q` haystack: text forms, a zero int left out, joined by chr(1). */
const SEARCH =
  "lower(concat_ws(chr(1), case when id <> 0 then id::text end, patient_id, name, case when age <> 0 then age::text end, gender, medical_condition, to_char(last_visit, 'YYYY-MM-DD')))";
const SELECT = `id, patient_id as "patientID", name, age, gender, medical_condition as "medicalCondition", to_char(last_visit, 'YYYY-MM-DD') as "lastVisit"`;
const SELECT_FOR_JSON = `id, patient_id as "patientID", name, age, gender, medical_condition as "medicalCondition", last_visit as "lastVisit"`;
const INT_MAX = 2_147_483_647;
const INT_MIN = -2_147_483_648;

describe('conditionSql', () => {
  it.each<[string, Condition, string, unknown[]]>([
    ['none', { op: 'none' }, 'false', []],
    // in / notIn: one array parameter, whatever the number of values.
    ['in on the id', { op: 'in', field: 'id', values: [1, 2, 3] }, 'id = any(?)', [[1, 2, 3]]],
    ['in on an int, one value (a plain comparison)', { op: 'in', field: 'age', values: [40] }, 'age = ?', [40]],
    ['in on an int, two values', { op: 'in', field: 'age', values: [40, 41] }, 'age = any(?)', [[40, 41]]],
    ['in on a text (column name differs)', { op: 'in', field: 'patientID', values: ['P1', 'P2'] }, 'patient_id = any(?)', [['P1', 'P2']]],
    ['in on an enum', { op: 'in', field: 'gender', values: ['Female'] }, 'gender = ?', ['Female']],
    ['in on medicalCondition', { op: 'in', field: 'medicalCondition', values: ['x'] }, 'medical_condition = ?', ['x']],
    ['in on a date', { op: 'in', field: 'lastVisit', values: ['2024-06-01'] }, 'last_visit = ?', ['2024-06-01']],
    ['empty in: nothing', { op: 'in', field: 'age', values: [] }, 'false', []],
    ['notIn', { op: 'notIn', field: 'age', values: [40, 41] }, 'age <> all(?)', [[40, 41]]],
    ['notIn on a text, one value', { op: 'notIn', field: 'name', values: ['A'] }, 'name <> ?', ['A']],
    ['empty notIn: everything', { op: 'notIn', field: 'name', values: [] }, 'true', []],

    // Int ranges: an int bound (index-friendly), rounded inwards; beyond the int range a constant.
    ['int gte', { op: 'gte', field: 'age', value: 40 }, 'age >= ?', [40]],
    ['int lte', { op: 'lte', field: 'age', value: 40 }, 'age <= ?', [40]],
    ['int gte 40.5 is >= 41', { op: 'gte', field: 'age', value: 40.5 }, 'age >= ?', [41]],
    ['int lte 40.5 is <= 40', { op: 'lte', field: 'age', value: 40.5 }, 'age <= ?', [40]],
    ['int lte -0.5 is <= -1', { op: 'lte', field: 'age', value: -0.5 }, 'age <= ?', [-1]],
    ['int bound given as text', { op: 'gte', field: 'age', value: '7' }, 'age >= ?', [7]],
    ['id gte', { op: 'gte', field: 'id', value: 3 }, 'id >= ?', [3]],
    ['gte int max', { op: 'gte', field: 'age', value: INT_MAX }, 'age >= ?', [INT_MAX]],
    ['gte just under int max', { op: 'gte', field: 'age', value: INT_MAX - 0.5 }, 'age >= ?', [INT_MAX]],
    ['gte just over int max', { op: 'gte', field: 'age', value: INT_MAX + 0.5 }, 'false', []],
    ['gte 2^31', { op: 'gte', field: 'age', value: 2 ** 31 }, 'false', []],
    ['lte 2^31', { op: 'lte', field: 'age', value: 2 ** 31 }, 'true', []],
    ['lte just over int max', { op: 'lte', field: 'age', value: INT_MAX + 0.5 }, 'age <= ?', [INT_MAX]],
    ['gte int min', { op: 'gte', field: 'age', value: INT_MIN }, 'age >= ?', [INT_MIN]],
    ['gte below int min', { op: 'gte', field: 'age', value: INT_MIN - 1 }, 'true', []],
    ['lte below int min', { op: 'lte', field: 'age', value: INT_MIN - 1 }, 'false', []],
    ['lte just under int min', { op: 'lte', field: 'age', value: INT_MIN - 0.5 }, 'false', []],
    ['gte just under int min', { op: 'gte', field: 'age', value: INT_MIN - 0.5 }, 'age >= ?', [INT_MIN]],
    ['gte Infinity', { op: 'gte', field: 'age', value: Infinity }, 'false', []],
    ['lte Infinity', { op: 'lte', field: 'age', value: Infinity }, 'true', []],
    ['gte -Infinity', { op: 'gte', field: 'age', value: -Infinity }, 'true', []],
    ['lte -Infinity', { op: 'lte', field: 'age', value: -Infinity }, 'false', []],

    // Text ranges: code-point order.
    ['text gte', { op: 'gte', field: 'name', value: 'M' }, 'name collate "C" >= ?', ['M']],
    ['text lte', { op: 'lte', field: 'patientID', value: 'P5' }, 'patient_id collate "C" <= ?', ['P5']],
    ['enum lte', { op: 'lte', field: 'gender', value: 'Male' }, 'gender collate "C" <= ?', ['Male']],
    ['text gte ""', { op: 'gte', field: 'medicalCondition', value: '' }, 'medical_condition collate "C" >= ?', ['']],

    // Date ranges: a full date as a date; anything else against the text form.
    ['date gte, a full date', { op: 'gte', field: 'lastVisit', value: '2024-06-01' }, 'last_visit >= ?::date', ['2024-06-01']],
    ['date lte, a full date', { op: 'lte', field: 'lastVisit', value: '2024-02-29' }, 'last_visit <= ?::date', ['2024-02-29']],
    [
      'date gte, a partial date',
      { op: 'gte', field: 'lastVisit', value: '2024' },
      `to_char(last_visit, 'YYYY-MM-DD') collate "C" >= ?`,
      ['2024'],
    ],
    [
      'date lte, no such day',
      { op: 'lte', field: 'lastVisit', value: '2024-02-30' },
      `to_char(last_visit, 'YYYY-MM-DD') collate "C" <= ?`,
      ['2024-02-30'],
    ],
    [
      'date gte, a number bound as text',
      { op: 'gte', field: 'lastVisit', value: 2024 },
      `to_char(last_visit, 'YYYY-MM-DD') collate "C" >= ?`,
      ['2024'],
    ],

    // Regular expressions, case-insensitive, on the text form.
    ['regex on a text', { op: 'regex', field: 'name', pattern: '^ada' }, 'name ~* ?', ['^ada']],
    ['regex on an enum', { op: 'regex', field: 'gender', pattern: 'male' }, 'gender ~* ?', ['male']],
    ['regex on an int', { op: 'regex', field: 'age', pattern: '^4' }, 'age::text ~* ?', ['^4']],
    ['regex on the id', { op: 'regex', field: 'id', pattern: '1$' }, 'id::text ~* ?', ['1$']],
    ['regex on a date', { op: 'regex', field: 'lastVisit', pattern: '-06-' }, `to_char(last_visit, 'YYYY-MM-DD') ~* ?`, ['-06-']],
  ])('%s', (_label, condition, sql, bindings) => {
    expect(conditionSql(patients, condition)).toStrictEqual({ sql, bindings });
  });
});

describe('whereSql', () => {
  it.each<[string, Partial<ListQuery>, Fragment]>([
    ['no conditions: no clause', {}, { sql: '', bindings: [] }],
    ['one condition', { where: [{ op: 'gte', field: 'age', value: 40 }] }, { sql: ' where (age >= ?)', bindings: [40] }],
    ['a condition that matches nothing', { where: [{ op: 'none' }] }, { sql: ' where (false)', bindings: [] }],
    ['q', { q: 'Ada' }, { sql: ` where (strpos(${SEARCH}, lower(?)) > 0)`, bindings: ['Ada'] }],
    ['q with chr(1): nothing, no binding', { q: 'a\u0001b' }, { sql: ' where (false)', bindings: [] }],
    [
      'conditions and q, each keeping its bindings',
      {
        where: [
          { op: 'regex', field: 'name', pattern: 'x' },
          { op: 'in', field: 'name', values: ['A'] },
          { op: 'gte', field: 'age', value: 30 },
        ],
        q: 'mig',
      },
      {
        sql: ` where (age >= ?) and (name = ?) and (name ~* ?) and (strpos(${SEARCH}, lower(?)) > 0)`,
        bindings: [30, 'A', 'x', 'mig'],
      },
    ],
  ])('%s', (_label, q, fragment) => {
    expect(whereSql(patients, query(q))).toStrictEqual(fragment);
  });

  const permutations = <T>(items: T[]): T[][] =>
    items.length <= 1
      ? [items]
      : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));

  describe.each<[string, Condition[]]>([
    [
      'filters on different fields',
      [
        { op: 'in', field: 'gender', values: ['Female'] },
        { op: 'lte', field: 'age', value: 60 },
        { op: 'regex', field: 'medicalCondition', pattern: 'mig' },
        { op: 'gte', field: 'lastVisit', value: '2024-01-01' },
      ],
    ],
    [
      'two ranges on one field, a constant and an exclusion',
      [
        { op: 'gte', field: 'age', value: 30 },
        { op: 'lte', field: 'age', value: 50 },
        { op: 'notIn', field: 'name', values: ['A', 'B'] },
        { op: 'none' },
      ],
    ],
  ])('canonical order: %s', (_label, conditions) => {
    const reference = whereSql(patients, query({ where: conditions, q: 'x' }));
    it.each(permutations(conditions).map((p, i) => [i, p] as const))('permutation %i gives the same text and bindings', (_i, where) => {
      expect(whereSql(patients, query({ where, q: 'x' }))).toStrictEqual(reference);
    });
    it('has every condition once, in sorted order', () => {
      const parts = reference.sql
        .replace(/^ where \(/, '')
        .replace(/\)$/, '')
        .split(') and (');
      expect(parts).toHaveLength(conditions.length + 1);
      expect(parts).toStrictEqual([...parts].sort());
    });
  });
});

describe('orderSql', () => {
  it.each<[string, SortKey[], string]>([
    ['no keys: id order', [], ' order by id'],
    ['text ascending, then id', [{ field: 'name', desc: false }], ' order by name collate "C", id'],
    ['text descending: ties still by ascending id', [{ field: 'name', desc: true }], ' order by name collate "C" desc, id'],
    ['column name differs', [{ field: 'patientID', desc: false }], ' order by patient_id collate "C", id'],
    [
      'int and date keys are not collated',
      [
        { field: 'age', desc: true },
        { field: 'lastVisit', desc: false },
      ],
      ' order by age desc, last_visit, id',
    ],
    [
      'two text keys',
      [
        { field: 'medicalCondition', desc: true },
        { field: 'gender', desc: false },
      ],
      ' order by medical_condition collate "C" desc, gender collate "C", id',
    ],
    ['id descending', [{ field: 'id', desc: true }], ' order by id desc'],
    ['id ascending', [{ field: 'id', desc: false }], ' order by id'],
    [
      'stops at an id key',
      [
        { field: 'name', desc: false },
        { field: 'id', desc: true },
        { field: 'age', desc: false },
      ],
      ' order by name collate "C", id desc',
    ],
  ])('%s', (_label, sort, sql) => {
    expect(orderSql(patients, query({ sort }))).toBe(sql);
  });
});

describe('pageSql', () => {
  it.each<[string, Partial<ListQuery>, string, unknown[]]>([
    ['everything', {}, `select ${SELECT} from patients order by id`, []],
    ['a limit', { limit: 10 }, `select ${SELECT} from patients order by id limit ?`, [10]],
    ['limit 0', { limit: 0 }, `select ${SELECT} from patients order by id limit ?`, [0]],
    ['a limit and an offset', { limit: 10, offset: 20 }, `select ${SELECT} from patients order by id limit ? offset ?`, [10, 20]],
    ['an offset without a limit', { offset: 5 }, `select ${SELECT} from patients order by id offset ?`, [5]],
    [
      'where, order, then slice bindings in order',
      { where: [{ op: 'in', field: 'age', values: [40, 41] }], q: 'x', sort: [{ field: 'name', desc: true }], limit: 5, offset: 10 },
      `select ${SELECT} from patients where (age = any(?)) and (strpos(${SEARCH}, lower(?)) > 0) order by name collate "C" desc, id limit ? offset ?`,
      [[40, 41], 'x', 5, 10],
    ],
  ])('%s', (_label, q, sql, bindings) => {
    const page = pageSql(patients, query(q));
    expect({ sql: page.sql, bindings: page.bindings }).toStrictEqual({ sql, bindings });
    // The count reuses the where clause without the slice.
    expect(page.where).toStrictEqual(whereSql(patients, query(q)));
  });

  it('takes another column list (json_agg)', () => {
    expect(pageSql(patients, query({ limit: 2 }), patients.selectForJson).sql).toBe(
      `select ${SELECT_FOR_JSON} from patients order by id limit ?`,
    );
  });

  it('does not share binding arrays with the where clause', () => {
    const page = pageSql(patients, query({ where: [{ op: 'gte', field: 'age', value: 1 }], limit: 3 }));
    expect(page.bindings).toStrictEqual([1, 3]);
    expect(page.where.bindings).toStrictEqual([1]);
  });
});

describe('select lists', () => {
  /** The output keys of a select list: split at top-level commas, the alias or the bare column. */
  const keysOf = (select: string): string[] => {
    const items: string[] = [];
    let depth = 0;
    let current = '';
    for (const c of select) {
      if (c === '(') depth++;
      if (c === ')') depth--;
      if (c === ',' && depth === 0) {
        items.push(current.trim());
        current = '';
      } else current += c;
    }
    items.push(current.trim());
    return items.map((item) => /as "([^"]+)"$/.exec(item)?.[1] ?? (/^[a-z_]+$/.test(item) ? item : `?${item}`));
  };
  const API_KEYS = ['id', 'patientID', 'name', 'age', 'gender', 'medicalCondition', 'lastVisit'];

  it.each<[string, string, string]>([
    ['select (dates as YYYY-MM-DD text)', patients.select, SELECT],
    ['selectForJson', patients.selectForJson, SELECT_FOR_JSON],
  ])('%s lists exactly the 7 API keys in order', (_label, select, expected) => {
    expect(keysOf(select)).toStrictEqual(API_KEYS);
    expect(select).toBe(expected);
  });

  it('the search haystack covers every field', () => {
    expect(patients.searchText).toBe(SEARCH);
  });
});
