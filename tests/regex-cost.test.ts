/**
 * `_like` filters cannot be made to cost steeply super-linear time. PostgreSQL's regex engine
 * backtracks on back-references (exponential), re-scans the text for every lookaround constraint
 * (polynomial, a degree per nesting level), and copies counted repetitions out when it compiles
 * (`(a{1,200}){1,200}`: half a second, or out of memory on PGlite). On the embedded PGlite nothing
 * can interrupt a running statement. So toPostgresRegex rejects such patterns, on both surfaces,
 * before any SQL runs.
 */
import { TRPCClientError } from '@trpc/client';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AppRouter, createClient } from '../src/client.ts';
import { QueryError } from '../src/core/errors.ts';
import {
  MAX_LIKE_COST,
  MAX_LIKE_PATTERN_LENGTH,
  MAX_LIKE_VALUES,
  regexCost,
  toPostgresRegex,
  toPostgresRegexAny,
} from '../src/core/regex.ts';
import { postJson, samplePatient, startTestApp, type TestApp } from './support/app.ts';

/** The report's repro: exponential backtracking on 'a' × 130 + 'c' (2.7 s on PGlite, one thread). */
const REPRO = '^(a*)(a*)(a*)(a*)(a*)\\1\\2\\3\\4\\5c$';
const LONG_CONDITION = `${'a'.repeat(130)}c`;
const STATEMENT_TIMEOUT_MS = 1000;

const reason = (pattern: string) => {
  try {
    toPostgresRegex(pattern);
  } catch (error) {
    expect(error).toBeInstanceOf(QueryError);
    return (error as Error).message;
  }
  return 'accepted';
};

describe('toPostgresRegex', () => {
  // What json-server users write keeps working, rewritten for PostgreSQL where needed.
  it.each([
    ['^jo', '^jo'],
    ['hyper', 'hyper'],
    ['son$', 'son$'],
    ['[ab]c$', '[ab]c$'],
    ['\\bdoe', '\\ydoe'],
    ['a\\Bb', 'a\\Yb'],
    ['a.*b', 'a.*b'],
    ['(x|y)', '(x|y)'],
    ['(?:x|y)+', '(?:x|y)+'],
    ['a{2,3}', 'a{2,3}'],
    ['\\d{4}-\\d{2}-\\d{2}', '\\d{4}-\\d{2}-\\d{2}'],
    ['^[A-Z][a-z]+ [A-Z][a-z]+$', '^[A-Z][a-z]+ [A-Z][a-z]+$'],
    ['p00[1-3]', 'p00[1-3]'],
    ['\\(knee\\)', '\\(knee\\)'],
    ['[À-ÿ]', '[À-ÿ]'],
    ['C:\\\\b', 'C:\\\\b'],
    ['(a+)+b', '(a+)+b'],
    ['(a|aa)*b', '(a|aa)*b'],
    ['', ''],
    ['x'.repeat(MAX_LIKE_PATTERN_LENGTH), 'x'.repeat(MAX_LIKE_PATTERN_LENGTH)],
    ['a{100}', 'a{100}'],
    ['[一-龥]+', '[一-龥]+'],
  ])('accepts %j as %j', (pattern, expected) => {
    expect(toPostgresRegex(pattern)).toBe(expected);
  });

  const TOO_LONG = `A _like pattern may have at most ${MAX_LIKE_PATTERN_LENGTH} characters`;
  const BACK_REFERENCE = 'Back-references are not supported in a _like filter';
  const LOOKAROUND = 'Lookahead and lookbehind are not supported in a _like filter';
  const TOO_COMPLEX = 'Regular expression in a _like filter is too complex';
  const INVALID = 'Invalid regular expression in a _like filter';
  const UNSUPPORTED = 'Unsupported regular expression syntax in a _like filter';

  it.each([
    // Longer than the cap: nothing else is even looked at.
    ['x'.repeat(MAX_LIKE_PATTERN_LENGTH + 1), TOO_LONG],
    [`${REPRO}${'x'.repeat(80)}`, TOO_LONG],
    // Back-references: PostgreSQL backtracks on them. `\10` is one as soon as there are ten groups.
    [REPRO, BACK_REFERENCE],
    ['(a)\\1', BACK_REFERENCE],
    ['\\9', BACK_REFERENCE],
    ['(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10', BACK_REFERENCE],
    ['[\\1]', BACK_REFERENCE],
    // Lookaround constraints: a re-scan per position, a power of the length per nesting level.
    ['(?=a)', LOOKAROUND],
    ['x(?!a)', LOOKAROUND],
    ['(?<=a)b', LOOKAROUND],
    ['(?<!a)b', LOOKAROUND],
    ['(?=.*(?=.*(?=.*(?=.*d))))', LOOKAROUND],
    // Counted repetitions copied out past the budget, and repeated pieces that can match nothing.
    ['(a{1,200}){1,200}', TOO_COMPLEX],
    ['(a{1,50}){1,50}', TOO_COMPLEX],
    ['((((a{1,5}){1,5}){1,5}){1,5}){1,5}', TOO_COMPLEX],
    ['(a?){100}a{100}', TOO_COMPLEX],
    ['(a|b?){255}c', TOO_COMPLEX],
    ['(.*){255}b', TOO_COMPLEX],
    ['a{1,255}', TOO_COMPLEX],
    ['.{0,100}b', TOO_COMPLEX],
    ['[a-z]{200}', TOO_COMPLEX],
    ['.?'.repeat(30), TOO_COMPLEX],
    // Case-insensitive compilation folds every character of a range, in PostgreSQL's reading:
    // to JavaScript this is \x00-\x10 and four f's.
    ['[\\x00-\\x10ffff]', TOO_COMPLEX],
    ['[\\u0000-\\uffff]', TOO_COMPLEX],
    ['.{67}x', TOO_COMPLEX],
    // Not a valid pattern for JavaScript, or not for PostgreSQL.
    ['(', INVALID],
    ['a{2,1}', INVALID],
    ['a{1,256}', INVALID],
    ['\\u{41}', INVALID],
    ['[a', INVALID],
    // JavaScript syntax PostgreSQL does not have (or reads differently).
    ['(?<n>a)\\k<n>', UNSUPPORTED],
    ['\\p{L}', UNSUPPORTED],
    ['\\cA', UNSUPPORTED],
    ['\\q', UNSUPPORTED],
    ['[[.a.]]', UNSUPPORTED],
  ])('rejects %j: %s', (pattern, message) => {
    expect(reason(pattern)).toBe(message);
  });

  it('never quotes the pattern in its message', () => {
    for (const pattern of ['(SECRET', '(SECRET)\\1', '(?=SECRET)', `(SECRET{1,200}){1,200}`, `SECRET${'x'.repeat(100)}`]) {
      expect(reason(pattern)).not.toContain('SECRET');
    }
  });

  it('the budget admits any literal up to the length cap (a search box sends what was typed)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: MAX_LIKE_PATTERN_LENGTH }), (text) => {
        const literal = text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').slice(0, MAX_LIKE_PATTERN_LENGTH);
        fc.pre(!/[\\]$/.test(literal));
        expect(regexCost(toPostgresRegex(literal))).toBeLessThanOrEqual(MAX_LIKE_COST);
      }),
      { numRuns: 300 },
    );
  });

  it('repeated values: each is checked, at most MAX_LIKE_VALUES, and their OR is costed as a whole', () => {
    expect(toPostgresRegexAny(['jo', '\\bsa'])).toBe('(jo)|(\\ysa)');
    expect(toPostgresRegexAny(['^jo'])).toBe('^jo');
    expect(() => toPostgresRegexAny(['jo', REPRO])).toThrow('Back-references are not supported in a _like filter');
    expect(() => toPostgresRegexAny(Array.from({ length: MAX_LIKE_VALUES + 1 }, (_, i) => `v${i}`))).toThrow(
      `At most ${MAX_LIKE_VALUES} _like values per field`,
    );
    expect(toPostgresRegexAny(Array.from({ length: MAX_LIKE_VALUES }, (_, i) => `v${i}`))).toContain('(v9)');
    // Each alone is within the budget, together they are not.
    const half = '[a-z]{50}';
    expect(regexCost(half)).toBeLessThanOrEqual(MAX_LIKE_COST);
    expect(() => toPostgresRegexAny([half, half])).toThrow('Regular expression in a _like filter is too complex');
  });
});

describe('over HTTP, on a real server', () => {
  let t: TestApp;
  let api: ReturnType<typeof createClient>;

  beforeAll(async () => {
    t = await startTestApp({ DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) });
    api = createClient({ baseUrl: t.baseUrl, batch: false });
    const patients = [
      samplePatient({ patientID: 'R1', medicalCondition: LONG_CONDITION }),
      samplePatient({ patientID: 'R2', name: 'John Doe', medicalCondition: 'Hypertension' }),
      samplePatient({ patientID: 'R3', name: 'Sara Connor', medicalCondition: 'Asthma' }),
      samplePatient({ patientID: 'R4', name: 'Ana Smith', medicalCondition: 'Type 2 Diabetes' }),
    ];
    for (const p of patients) expect((await postJson(t.baseUrl, '/patients', p)).status).toBe(201);
  });
  afterAll(() => t?.stop());
  afterEach(() => vi.restoreAllMocks());

  /** Counts the statements the request paths send while `work` runs. */
  async function statementsDuring(work: () => Promise<unknown>): Promise<number> {
    const spy = vi.spyOn(t.app.db.sql, 'query');
    try {
      await work();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  const rest = async (pattern: string, field = 'medicalCondition') => {
    const started = performance.now();
    const res = await fetch(`${t.baseUrl}/patients?${field}_like=${encodeURIComponent(pattern)}`);
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, ms: performance.now() - started };
  };

  it('the repro: 400 on REST, without a statement sent to the database', async () => {
    let res!: Awaited<ReturnType<typeof rest>>;
    expect(await statementsDuring(async () => (res = await rest(REPRO)))).toBe(0);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ message: 'Back-references are not supported in a _like filter', code: 'BAD_REQUEST' });
    // The same spy sees an accepted filter's statement: the zero above is not an accident of wiring.
    let ok!: Awaited<ReturnType<typeof rest>>;
    expect(await statementsDuring(async () => (ok = await rest('a{99}c')))).toBeGreaterThan(0);
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.text) as { patientID: string }[]).map((p) => p.patientID)).toEqual(['R1']);
  });

  it('the repro: BAD_REQUEST from patient.search through the typed client, without a statement sent', async () => {
    let error: unknown;
    const sent = await statementsDuring(() =>
      api.patient.search.query({ filter: { medicalCondition: { like: REPRO } } }).catch((e: unknown) => (error = e)),
    );
    expect(sent).toBe(0);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe('BAD_REQUEST');
    expect((error as TRPCClientError<AppRouter>).message).toBe('Back-references are not supported in a _like filter');
    const found = await api.patient.search.query({ filter: { medicalCondition: { like: 'hyper|asthma' } } });
    expect(found.items.map((p) => p.patientID)).toEqual(['R2', 'R3']);
  });

  it('each rejection class is a 400 with a fixed message on REST, and BAD_REQUEST on tRPC', async () => {
    for (const pattern of ['(?=a)', '(a{1,200}){1,200}', `${'x'.repeat(101)}`, '[\\x00-\\x10ffff]']) {
      const res = await rest(pattern);
      expect(res.status, pattern).toBe(400);
      expect(res.text).not.toContain(pattern.slice(0, 5));
      const err = await api.patient.search
        .query({ filter: { name: { like: pattern } } })
        .catch((e: unknown) => e as TRPCClientError<AppRouter>);
      expect(err, pattern).toBeInstanceOf(TRPCClientError);
      expect((err as TRPCClientError<AppRouter>).data?.code, pattern).toBe('BAD_REQUEST');
    }
    const repeated = await fetch(
      `${t.baseUrl}/patients?${Array.from({ length: MAX_LIKE_VALUES + 1 }, (_, i) => `name_like=v${i}`).join('&')}`,
    );
    expect(repeated.status).toBe(400);
    expect(((await repeated.json()) as { message: string }).message).toBe(`At most ${MAX_LIKE_VALUES} _like values per field`);
  });

  it('generated patterns: always 200 or a 400 JSON, never a 5xx, each well within the statement timeout', async () => {
    const token = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('a', 'a', 'c', 'b', 'x', 'y', 'z', '0', '1', '2') },
      { weight: 4, arbitrary: fc.constantFrom('^', '$', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\', '-', ',') },
      {
        weight: 2,
        arbitrary: fc.constantFrom('{1,50}', '{0,255}', '{1,200}', '{130}', '{2,}', '{1,5}', '*?', '(?:', '(?=', '(?<=', '(?!'),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '\\1',
          '\\2',
          '\\5',
          '\\10',
          '\\b',
          '\\d',
          '\\w',
          '\\s',
          '\\B',
          '\\x41',
          '\\u00e9',
          '[a-z]',
          '[^c]',
          '(a*)',
        ),
      },
    );
    // Building blocks of the costly patterns, so that a missing rule shows up as a failure here.
    const costly = fc.constantFrom(
      '(a*)',
      '(a*)',
      '(a+)',
      '(a?)',
      '\\1',
      '\\2',
      '\\3',
      '\\4',
      '(a{1,200})',
      '{1,200}',
      '{255}',
      '(?=.*',
      '(?=a*',
      ')',
      '(.*)',
      'c',
      '^',
      '$',
    );
    const pattern = fc.oneof(
      fc.array(token, { maxLength: 40 }).map((ts) => ts.join('')),
      fc.array(costly, { minLength: 3, maxLength: 14 }).map((ts) => ts.join('')),
    );
    await fc.assert(
      fc.asyncProperty(pattern, fc.boolean(), async (p, viaTrpc) => {
        const started = performance.now();
        if (viaTrpc) {
          try {
            await api.patient.search.query({ filter: { medicalCondition: { like: p } } });
          } catch (error) {
            expect(error, p).toBeInstanceOf(TRPCClientError);
            expect((error as TRPCClientError<AppRouter>).data?.code, p).toBe('BAD_REQUEST');
          }
        } else {
          const res = await rest(p);
          expect([200, 400], `${p}: ${res.status}`).toContain(res.status);
          expect(res.type, p).toContain('application/json');
          JSON.parse(res.text);
        }
        expect(performance.now() - started, p).toBeLessThan(STATEMENT_TIMEOUT_MS);
      }),
      { numRuns: 250 },
    );
  });
});
