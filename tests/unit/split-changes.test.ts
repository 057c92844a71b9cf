/**
 * The event changes a group of changes to one record works out before the statement
 * (splitChanges in src/core/record-sql.ts): what an earlier change of the group set is known,
 * what the group sets first is left to the statement, which alone knows the record's values.
 * No database; tests/history.test.ts checks the events the statement stores.
 */
import { describe, expect, it } from 'vitest';
import { type Change, splitChanges } from '../../src/core/record-sql.ts';

const audit = { actor: 'anonymous', requestId: null };
const change = (fields: Record<string, unknown>): Change<Record<string, unknown>> => ({ fields, op: 'update', audit });
const split = (...fields: Record<string, unknown>[]) => {
  const [known, initial] = splitChanges(fields.map(change));
  return fields.map((_, i) => ({ known: JSON.parse(known[i]!), initial: JSON.parse(initial[i]!) }));
};

describe('splitChanges', () => {
  it('the first change of each field is left to the statement; later ones start from the change before', () => {
    expect(split({ age: 41 }, { age: 42, name: 'B' }, { name: 'C', age: 43 })).toEqual([
      { known: {}, initial: { age: 41 } },
      { known: { age: { from: 41, to: 42 } }, initial: { name: 'B' } },
      { known: { name: { from: 'B', to: 'C' }, age: { from: 42, to: 43 } }, initial: {} },
    ]);
  });

  it('a field set again to the value it already holds is no change; an empty or undefined field sets nothing', () => {
    expect(split({ age: 41 }, { age: 41 }, {}, { age: undefined, name: 'A' }, { age: 40 })).toEqual([
      { known: {}, initial: { age: 41 } },
      { known: {}, initial: {} },
      { known: {}, initial: {} },
      { known: {}, initial: { name: 'A' } },
      { known: { age: { from: 41, to: 40 } }, initial: {} },
    ]);
  });

  it('compares values as the JSON the statement stores: equal text is equal, a number is not its string', () => {
    expect(split({ lastVisit: '2024-01-02' }, { lastVisit: '2024-01-02' }, { age: 5 }, { age: '5' })).toEqual([
      { known: {}, initial: { lastVisit: '2024-01-02' } },
      { known: {}, initial: {} },
      { known: {}, initial: { age: 5 } },
      { known: { age: { from: 5, to: '5' } }, initial: {} },
    ]);
  });

  it('one text pair per change, in order, whatever the group size', () => {
    const [known, initial] = splitChanges(Array.from({ length: 100 }, (_, i) => change({ age: i % 3 })));
    expect(known).toHaveLength(100);
    expect(initial).toHaveLength(100);
    expect(JSON.parse(known[99]!)).toEqual({ age: { from: 2, to: 0 } });
  });
});
