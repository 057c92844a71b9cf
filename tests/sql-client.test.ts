/**
 * The SQL client on MikroORM's pool: concurrent parameterised statements each get their own
 * result (on PGlite, whose socket server interleaves connections' protocol messages, too), and
 * failures arrive as MikroORM's exception classes.
 */
import { describe, expect, it } from 'vitest';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { useOpenedTestDatabase } from './support/database.ts';

const opened = useOpenedTestDatabase();

describe('SQL client', () => {
  it('runs many concurrent parameterised statements, each answered with its own rows', async () => {
    // Three statement shapes, so a statement bound or executed for another query would show.
    const run = (i: number) => {
      switch (i % 3) {
        case 0:
          return opened.db.sql.query('select ?::int as n', [i], 'echo_one');
        case 1:
          return opened.db.sql.query('select ?::text as s, ?::int as n', [`text-${i}`, i]);
        default:
          return opened.db.sql.query('select n from generate_series(1, ?::int) as g(n) where n = ?::int', [i + 5, i], 'echo_series');
      }
    };
    const expected = (i: number) => (i % 3 === 1 ? [{ s: `text-${i}`, n: i }] : [{ n: i }]);
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(Array.from({ length: 90 }, (_, i) => run(i)));
      results.forEach((rows, i) => expect(rows).toEqual(expected(i)));
    }
  });

  it('turns driver errors into MikroORM exceptions, and keeps working after them', async () => {
    await opened.db.sql.query("insert into patients (patient_id, name, age, gender, medical_condition, last_visit) values ('D1', 'n', 1, 'Male', 'c', '2024-01-01')");
    const duplicate = opened.db.sql.query("insert into patients (patient_id, name, age, gender, medical_condition, last_visit) values ('D1', 'n', 1, 'Male', 'c', '2024-01-01')");
    await expect(duplicate).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    expect(await opened.db.sql.query<{ c: number }>('select count(*)::int as c from patients')).toEqual([{ c: 1 }]);
  });
});
