import { QueryError } from './errors.ts';

/**
 * json-server's `_like` filters are JavaScript regular expressions run by PostgreSQL (`~*`). Here
 * they are checked, translated and costed before any SQL runs.
 */

/** The longest `_like` pattern, in UTF-16 code units (what zod's `max` counts). */
export const MAX_LIKE_PATTERN_LENGTH = 100;
/** The most `_like` values one field may have (json-server ORs repeated values). */
export const MAX_LIKE_VALUES = 10;
/**
 * The most one field's pattern (all its values together) may cost, in the units of `regexCost`:
 * what a literal of MAX_LIKE_PATTERN_LENGTH characters costs. A search box that sends what was
 * typed always fits, and nothing accepted is much dearer to run than such a search.
 */
export const MAX_LIKE_COST = 2 * MAX_LIKE_PATTERN_LENGTH;

// Fixed messages: a client's pattern is never echoed (it may hold patient data).
const INVALID = 'Invalid regular expression in a _like filter';
const UNSUPPORTED = 'Unsupported regular expression syntax in a _like filter';
const BACK_REFERENCE = 'Back-references are not supported in a _like filter';
const LOOKAROUND = 'Lookahead and lookbehind are not supported in a _like filter';
const TOO_COMPLEX = 'Regular expression in a _like filter is too complex';

/**
 * Checks a `_like` pattern the way json-server uses it (`new RegExp(v, 'i')`), rewrites the
 * few JavaScript escapes PostgreSQL's regex dialect spells differently (`\b` word boundary is
 * `\y` there), and rejects what would be costly to run (see `regexCost`), all before any SQL
 * runs. Patterns PostgreSQL still cannot compile are rejected by the database, as 400 as well.
 */
export function toPostgresRegex(pattern: string): string {
  return checkedRegex(pattern).regex;
}

/** Repeated `_like` values of one field: the OR of all, checked and costed together. */
export function toPostgresRegexAny(patterns: readonly string[]): string {
  if (patterns.length > MAX_LIKE_VALUES) throw new QueryError(`At most ${MAX_LIKE_VALUES} _like values per field`);
  const checked = patterns.map(checkedRegex);
  if (checked.length === 1) return (checked[0] as { regex: string }).regex;
  // The cost of an alternation is the sum of its branches'.
  if (checked.reduce((sum, c) => sum + c.cost, 0) > MAX_LIKE_COST) throw new QueryError(TOO_COMPLEX);
  // (a)|(b) is the OR of both patterns.
  return checked.map((c) => `(${c.regex})`).join('|');
}

function checkedRegex(pattern: string): { regex: string; cost: number } {
  // First, so that nothing longer is even parsed.
  if (pattern.length > MAX_LIKE_PATTERN_LENGTH) {
    throw new QueryError(`A _like pattern may have at most ${MAX_LIKE_PATTERN_LENGTH} characters`);
  }
  try {
    new RegExp(pattern, 'i');
  } catch {
    throw new QueryError(INVALID);
  }
  const regex = pattern.replace(/\\(\\|b|B)/g, (_m, c: string) => (c === 'b' ? '\\y' : c === 'B' ? '\\Y' : '\\\\'));
  const cost = regexCost(regex);
  if (cost > MAX_LIKE_COST) throw new QueryError(TOO_COMPLEX);
  return { regex, cost };
}

/**
 * A piece of pattern as PostgreSQL's regex engine (Henry Spencer's) runs it: compiled to an NFA,
 * counted repetitions copied out, then run as a DFA built lazily, one DFA state per new set of
 * active NFA states. A yes/no match therefore costs at most (text length) × (what one step can
 * touch), which the piece's position automaton bounds: `positions` (characters matched, every
 * copy counted; a class or `.` twice, as it keeps a match going on any text), `arcs`
 * (position-to-position transitions), `first`/`last` (the positions a match of the piece can
 * start/end on).
 */
interface Shape {
  positions: number;
  arcs: number;
  first: number;
  last: number;
  nullable: boolean;
}
const EMPTY: Shape = { positions: 0, arcs: 0, first: 0, last: 0, nullable: true };
const ATOM: Shape = { positions: 1, arcs: 0, first: 1, last: 1, nullable: false };
const WIDE_ATOM: Shape = { ...ATOM, positions: 2 };

const seq = (a: Shape, b: Shape): Shape => ({
  positions: a.positions + b.positions,
  arcs: a.arcs + b.arcs + a.last * b.first,
  first: a.first + (a.nullable ? b.first : 0),
  last: b.last + (b.nullable ? a.last : 0),
  nullable: a.nullable && b.nullable,
});
const alt = (a: Shape, b: Shape): Shape => ({
  positions: a.positions + b.positions,
  arcs: a.arcs + b.arcs,
  first: a.first + b.first,
  last: a.last + b.last,
  nullable: a.nullable || b.nullable,
});
const optional = (a: Shape): Shape => ({ ...a, nullable: true });
const loop = (a: Shape): Shape => ({ ...a, arcs: a.arcs + a.last * a.first });

/**
 * x{2,4} is copied out as x x x? x?. (PostgreSQL nests the optional copies, `x x (x (x)?)?`, but
 * timings follow the flat form: a range of n optional copies costs about n²/2, like n `x?`.)
 */
function repeat(a: Shape, min: number, max: number): Shape {
  let shape = EMPTY;
  for (let n = 0; n < min; n++) shape = seq(shape, a);
  if (max === Infinity) return seq(shape, optional(loop(a)));
  for (let n = min; n < max; n++) shape = seq(shape, optional(a));
  return shape;
}

/** PostgreSQL's largest repetition count (DUPMAX): larger ones do not compile. */
const MAX_REPEAT = 255;
/**
 * Code points of bracket ranges per cost unit. Case-insensitive matching folds every character
 * of a range when the pattern is compiled: `[\x00-\U0010ffff]` alone takes 20-40 ms.
 */
const RANGE_CODE_POINTS_PER_UNIT = 256;

/**
 * The estimated cost of a pattern, read the way PostgreSQL reads it (ARE syntax, after the
 * rewrite): positions + arcs + starting positions of the whole, plus the size of its bracket
 * ranges. Back-references (`\1`..`\9`, `\10`...: PostgreSQL backtracks on them, exponentially)
 * and lookaround constraints (each one re-scans the rest of the text from every position it is
 * tried at, a power of the length per nesting level) are rejected outright. So is anything it
 * does not understand: it errs on the side of 400.
 */
export function regexCost(re: string): number {
  let i = 0;
  let rangeSpan = 0;
  const fail = (message: string): never => {
    throw new QueryError(message);
  };
  const isBound = (at: number) => re[at] === '{' && /[0-9]/.test(re[at + 1] ?? '');

  /** After a backslash: the character it stands for (undefined: a class or a constraint). */
  const readEscape = (inBracket: boolean): number | undefined => {
    const c = re[i++];
    if (c === undefined) return fail(INVALID);
    // Like PostgreSQL's lexdigits: at most `max` digits, in an unsigned 32-bit chr.
    const digits = (radix: 8 | 16, min: number, max: number) => {
      let n = 0;
      let count = 0;
      for (; count < max && i < re.length; count++, i++) {
        const d = Number.parseInt(re[i] as string, radix);
        if (Number.isNaN(d)) break;
        n = (n * radix + d) >>> 0;
      }
      return count < min || n > 0x7ffffffe ? fail(INVALID) : n;
    };
    if (/[1-9]/.test(c)) return fail(BACK_REFERENCE);
    if (c === '0') return digits(8, 0, 2);
    if (c === 'x') return digits(16, 1, 255);
    if (c === 'u') return digits(16, 4, 4);
    if (c === 'U') return digits(16, 8, 8);
    if ('dswDSW'.includes(c)) return undefined;
    if ('AZmMyY'.includes(c)) return inBracket ? fail(INVALID) : undefined;
    const control = 'abBefnrtv'.indexOf(c);
    if (control >= 0) return [7, 8, 92, 27, 12, 10, 13, 9, 11][control];
    // Other letters (\k, \p, \c...) mean nothing or something else to PostgreSQL.
    if (/[0-9A-Za-z]/.test(c)) return fail(UNSUPPORTED);
    return codePoint(i - 1);
  };
  /** The code point at `at`; moves past its second half if it has one. */
  const codePoint = (at: number) => {
    const c = re.codePointAt(at) as number;
    if (c > 0xffff) i++;
    return c;
  };

  /** A bracket expression, after its `[`: one (wide) position, whatever it holds. */
  const bracket = (): Shape => {
    if (re[i] === '^') i++;
    const element = (): number | undefined => {
      if (re[i] === '[' && ':.='.includes(re[i + 1] ?? '-')) {
        // [:alpha:]; collating elements and equivalence classes have no JavaScript meaning.
        if (re[i + 1] !== ':') return fail(UNSUPPORTED);
        const end = re.indexOf(':]', i + 2);
        if (end < 0) return fail(INVALID);
        i = end + 2;
        return undefined;
      }
      if (re[i] === '\\') {
        i++;
        return readEscape(true);
      }
      return codePoint(i++);
    };
    // A `]` right after `[` or `[^` is a member.
    for (let first = true; ; first = false) {
      if (i >= re.length) return fail(INVALID);
      if (re[i] === ']' && !first) {
        i++;
        return WIDE_ATOM;
      }
      const low = element();
      if (re[i] === '-' && i + 1 < re.length && re[i + 1] !== ']') {
        i++;
        const high = element();
        if (low === undefined || high === undefined || high < low) return fail(INVALID);
        rangeSpan += high - low + 1;
      }
    }
  };

  const atom = (): Shape => {
    const c = re[i++];
    if (c === '[') return bracket();
    if (c === '\\') {
      const wide = 'dswDSW'.includes(re[i] ?? '-');
      readEscape(false);
      return wide ? WIDE_ATOM : ATOM;
    }
    if (c === '*' || c === '+' || c === '?' || (c === '{' && isBound(i - 1))) return fail(INVALID);
    if (c === '.') return WIDE_ATOM;
    if (c !== '(') {
      codePoint(i - 1);
      return ATOM;
    }
    if (re[i] === '?') {
      const kind = re.slice(i + 1, i + 3);
      if (kind[0] === '=' || kind[0] === '!' || kind === '<=' || kind === '<!') return fail(LOOKAROUND);
      // Named groups and PostgreSQL's embedded options/comments.
      if (kind[0] !== ':') return fail(UNSUPPORTED);
      i += 2;
    }
    const inner = alternation();
    if (re[i++] !== ')') return fail(INVALID);
    return inner;
  };

  const quantified = (a: Shape): Shape => {
    let shape: Shape;
    if (re[i] === '*') shape = optional(loop(a));
    else if (re[i] === '+') shape = loop(a);
    else if (re[i] === '?') shape = optional(a);
    else if (isBound(i)) {
      const bound = /^\{([0-9]+)(,([0-9]*))?\}/.exec(re.slice(i));
      if (!bound) return fail(INVALID);
      const min = Number(bound[1]);
      const max = bound[2] === undefined ? min : bound[3] === '' ? Infinity : Number(bound[3]);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT) || max < min) return fail(INVALID);
      shape = repeat(a, min, max);
      i += bound[0].length - 1;
    } else return a;
    i++;
    // Non-greedy: the same cost for a yes/no match.
    if (re[i] === '?') i++;
    if (re[i] === '*' || re[i] === '+' || re[i] === '?' || isBound(i)) return fail(INVALID);
    return shape;
  };

  const sequence = (): Shape => {
    let shape = EMPTY;
    while (i < re.length && re[i] !== '|' && re[i] !== ')') shape = seq(shape, quantified(atom()));
    return shape;
  };
  const alternation = (): Shape => {
    let shape = sequence();
    while (re[i] === '|') {
      i++;
      shape = alt(shape, sequence());
    }
    return shape;
  };

  const whole = alternation();
  if (i < re.length) return fail(INVALID);
  return whole.positions + whole.arcs + whole.first + Math.ceil(rangeSpan / RANGE_CODE_POINTS_PER_UNIT);
}
