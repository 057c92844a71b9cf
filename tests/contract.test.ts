/**
 * Side by side with the real json-server 0.17.4: the same data (json-server reads a copy of the
 * fixture, this service imports it with the seeder), the same requests, and the answers compared:
 * status, the headers a frontend reads (X-Total-Count, Link, Access-Control-*, Location,
 * Content-Type) and the JSON bodies. Deliberate divergences are at the end, each with its reason.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net.ts';
import { importPatients } from '../src/patients/patient.import.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { ROOT } from './support/process.ts';

const FIXTURE = join(ROOT, 'tests/fixtures/contract-db.json');
const ORIGIN = 'http://localhost:5173';
const COMPARED_HEADERS = [
  'content-type',
  'x-total-count',
  'link',
  'access-control-expose-headers',
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'location',
];

interface Req {
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}
interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: unknown;
}

let jsonServer: { base: string; child: ChildProcess };
let ours: TestApp;

async function startJsonServer() {
  const dir = mkdtempSync(join(tmpdir(), 'json-server-'));
  copyFileSync(FIXTURE, join(dir, 'db.json'));
  const port = await freePort();
  const bin = join(ROOT, 'node_modules/json-server/lib/cli/bin.js');
  const child = spawn(process.execPath, [bin, '--host', '127.0.0.1', '--port', String(port), '--quiet', 'db.json'], {
    cwd: dir,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '' },
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/patients`)).ok) return { base, child };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('json-server did not start');
}

async function send(base: string, req: Req): Promise<Answer> {
  const res = await fetch(`${base}${req.path}`, {
    method: req.method ?? 'GET',
    headers: { ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers },
    ...(req.body !== undefined ? { body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body) } : {}),
  });
  const host = new URL(base).host;
  const headers: Answer['headers'] = {};
  for (const name of COMPARED_HEADERS) headers[name] = res.headers.get(name)?.replaceAll(host, 'HOST') ?? null;
  // json-server sends Allow-Credentials on every response; it only means something with an Origin.
  if (!req.headers?.origin) delete headers['access-control-allow-credentials'];
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: res.status, headers, body };
}

const both = async (req: Req) => ({ theirs: await send(jsonServer.base, req), mine: await send(ours.baseUrl, req) });

/**
 * Our one deliberate header addition: single-record answers carry an ETag (optimistic concurrency,
 * tests/concurrency.test.ts), exposed to browser code. Compared without it; checked present.
 */
function withoutEtag(answer: Answer): Answer['headers'] {
  const expose = answer.headers['access-control-expose-headers'];
  if (expose == null) return answer.headers;
  const rest = expose
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== 'ETag');
  return { ...answer.headers, 'access-control-expose-headers': rest.length > 0 ? rest.join(', ') : null };
}

async function expectSame(req: Req) {
  const { theirs, mine } = await both(req);
  expect({ status: mine.status, headers: withoutEtag(mine), body: mine.body }).toEqual({
    status: theirs.status,
    headers: theirs.headers,
    body: theirs.body,
  });
  return mine;
}

beforeAll(async () => {
  jsonServer = await startJsonServer();
  ours = await startTestApp({ CORS_ORIGINS: ORIGIN });
  const report = await importPatients(ours.app.db.orm.em.fork(), JSON.parse(readFileSync(FIXTURE, 'utf8')));
  expect(report.invalid).toBe(0);
});

afterAll(async () => {
  jsonServer?.child.kill();
  await ours?.stop();
});

const reads: string[] = [
  // whole list, single records, ids matched by their exact text form
  '/patients',
  '/patients/',
  '/patients/1',
  '/patients/1/',
  '/patients/12',
  '/patients/999',
  '/patients/01',
  '/patients/1.0',
  '/patients/abc',
  '/patients/0',
  '/patients/-1',
  '/unknown',
  '/patients/1/visits/2',
  // field=value: exact, case-sensitive, numbers by their text form, repeated = OR
  '/patients?gender=Male',
  '/patients?gender=male',
  '/patients?patientID=P003',
  '/patients?patientID=p003',
  '/patients?age=45',
  '/patients?age=45.0',
  '/patients?age=045',
  '/patients?id=1&id=2',
  '/patients?id[]=1&id[]=3',
  '/patients?name=John%20Doe',
  '/patients?name=John+Doe',
  '/patients?name=%C3%89lodie%20Martin',
  '/patients?lastVisit=2024-01-15',
  '/patients?lastVisit=2024-1-15',
  '/patients?gender=Female&age=32',
  '/patients?gender=Female&gender=Other',
  // _ne (repeated: AND), _gte/_lte (numbers numerically, strings in code-point order)
  '/patients?gender_ne=Male',
  '/patients?gender_ne=Male&gender_ne=Female',
  '/patients?age_ne=45',
  '/patients?age_ne=abc',
  '/patients?age_gte=40',
  '/patients?age_lte=40',
  '/patients?age_gte=30&age_lte=50',
  '/patients?age_gte=45.5',
  '/patients?age_gte=abc',
  '/patients?age_gte=40&age_gte=60',
  '/patients?id_lte=3',
  '/patients?lastVisit_gte=2024-01-01',
  '/patients?lastVisit_lte=2023-12-31',
  '/patients?lastVisit_gte=2024',
  '/patients?lastVisit_gte=2022-08-30&lastVisit_lte=2024-01-15',
  '/patients?name_gte=J',
  '/patients?name_lte=Z',
  '/patients?name_gte=a',
  '/patients?patientID_gte=P005',
  // _like: case-insensitive regular expression
  '/patients?name_like=jo',
  '/patients?name_like=^j',
  '/patients?name_like=son$',
  '/patients?name_like=J.*n',
  '/patients?name_like=a%20m',
  '/patients?name_like=elodie',
  '/patients?name_like=%C3%A9lodie',
  '/patients?name_like=%5Cbdoe',
  '/patients?medicalCondition_like=hyper',
  '/patients?medicalCondition_like=%5C(knee%5C)',
  '/patients?patientID_like=p00[1-3]',
  '/patients?age_like=4',
  '/patients?lastVisit_like=-01-',
  '/patients?id_like=1',
  '/patients?name_like=jo&name_like=sara',
  // q: case-insensitive substring of every field, id, numbers and dates included
  '/patients?q=hyper',
  '/patients?q=45',
  '/patients?q=1',
  '/patients?q=2022-08',
  '/patients?q=P003',
  '/patients?q=%C3%A9lodie',
  '/patients?q=%C3%89MILE',
  '/patients?q=50%25',
  '/patients?q=jo&q=zzz',
  '/patients?q=hyper&gender=Female',
  '/patients?q=zzzz',
  // empty values, unknown fields
  '/patients?gender=',
  '/patients?name_like=',
  '/patients?q=',
  '/patients?age_gte=',
  '/patients?age_lte=',
  '/patients?foo=bar',
  '/patients?foo_ne=1',
  '/patients?foo_like=x',
  '/patients?foo_gte=1',
  '/patients?patientid=P001',
  // sort: code-point order, several fields, order case-insensitive, stable ties even for desc
  '/patients?_sort=name',
  '/patients?_sort=name&_order=desc',
  '/patients?_sort=patientID',
  '/patients?_sort=age&_order=desc',
  '/patients?_sort=age&_order=DESC',
  '/patients?_sort=age',
  '/patients?_sort=age,name&_order=desc,asc',
  '/patients?_sort=gender,age&_order=asc,desc',
  '/patients?_sort=gender,age',
  '/patients?_sort=lastVisit',
  '/patients?_sort=lastVisit&_order=desc',
  '/patients?_sort=medicalCondition',
  '/patients?_sort=id&_order=desc',
  '/patients?_sort=-age',
  '/patients?_sort=foo',
  '/patients?_sort=foo,age',
  '/patients?_order=desc',
  '/patients?_sort=age&_order=sideways',
  // pagination: _page/_limit, _start/_end, _limit/_start, with their headers
  '/patients?_page=1&_limit=3',
  '/patients?_page=2&_limit=3',
  '/patients?_page=3&_limit=5',
  '/patients?_page=4&_limit=3',
  '/patients?_page=5&_limit=3',
  '/patients?_limit=3&_page=2',
  '/patients?_page=1',
  '/patients?_page=2',
  '/patients?_page=1&_limit=abc',
  '/patients?_page=2&_limit=0',
  '/patients?_page=1&_limit=12',
  '/patients?_page=1&_limit=11',
  '/patients?gender=Female&_page=1&_limit=2',
  '/patients?gender=Female&_page=3&_limit=2',
  '/patients?q=hyper&_sort=age&_page=1&_limit=1',
  '/patients?_start=0&_end=3',
  '/patients?_start=2&_end=5',
  '/patients?_end=2',
  '/patients?_start=5&_end=2',
  '/patients?_start=10&_end=20',
  '/patients?_limit=3',
  '/patients?_limit=3&_start=2',
  '/patients?_limit=0',
  '/patients?_start=3',
  '/patients?_start=0&_end=3&_limit=1',
  '/patients?_page=2&_end=1&_limit=4',
  '/patients?_sort=name&_order=ASC&_start=0&_end=25',
  '/patients?_sort=age&_order=DESC&_start=2&_end=6&gender=Female',
];

describe('json-server 0.17.4 side by side: reads', () => {
  it.each(reads)('GET %s', async (path) => {
    await expectSame({ path });
  });

  it.each(['/patients', '/patients?_page=1&_limit=2', '/patients/2', '/unknown'])('GET %s from an allowed origin', async (path) => {
    await expectSame({ path, headers: { origin: ORIGIN } });
  });

  it('answers a CORS preflight for PATCH like json-server', async () => {
    const req = {
      method: 'OPTIONS',
      path: '/patients/1',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type' },
    };
    const { theirs, mine } = await both(req);
    expect(mine.status).toBe(theirs.status);
    const cors = (a: Answer) => [a.headers['access-control-allow-origin'], a.headers['access-control-allow-credentials']];
    expect(cors(mine)).toEqual(cors(theirs));
    const raw = async (base: string) => {
      const res = await fetch(`${base}${req.path}`, { method: 'OPTIONS', headers: req.headers });
      return [res.headers.get('access-control-allow-methods'), res.headers.get('access-control-allow-headers')];
    };
    expect(await raw(ours.baseUrl)).toEqual(await raw(jsonServer.base));
  });
});

const patient = (patientID: string, overrides: Record<string, unknown> = {}) => ({
  patientID,
  name: 'New Patient',
  age: 50,
  gender: 'Other',
  medicalCondition: 'Checkup',
  lastVisit: '2024-06-01',
  ...overrides,
});

describe('json-server 0.17.4 side by side: writes, then the list after them', () => {
  it('POST creates with the next id (13), 201 and Location', async () => {
    const mine = await expectSame({ method: 'POST', path: '/patients', body: patient('N013') });
    expect(mine.status).toBe(201);
    expect((mine.body as { id: number }).id).toBe(13);
    expect(mine.headers.location).toBe('http://HOST/patients/13');
  });

  it('POST from an allowed origin exposes Location', async () => {
    const mine = await expectSame({ method: 'POST', path: '/patients', body: patient('N014'), headers: { origin: ORIGIN } });
    expect(mine.headers['access-control-expose-headers']).toBe('Location, ETag');
  });

  it.each<Req>([
    { path: '/patients/13' },
    { method: 'PUT', path: '/patients/2', body: patient('P002', { name: 'Jane Smith-Jones', age: 33 }) },
    { method: 'PUT', path: '/patients/2/', body: { ...patient('P002', { name: 'Jane Again' }), id: 999 } },
    { method: 'PATCH', path: '/patients/3', body: { age: 59 } },
    { method: 'PATCH', path: '/patients/3', body: { name: 'Robert J.', id: 77 } },
    { method: 'PATCH', path: '/patients/3', body: {} },
    { method: 'PATCH', path: '/patients/999', body: { age: 1 } },
    { method: 'PUT', path: '/patients/999', body: patient('X999') },
    { method: 'PUT', path: '/patients/abc', body: patient('X998') },
    { method: 'DELETE', path: '/patients/999' },
    { method: 'DELETE', path: '/patients/01' },
    { method: 'DELETE', path: '/patients/4' },
    { path: '/patients/4' },
    { method: 'DELETE', path: '/patients/4' },
    { method: 'PATCH', path: '/patients/4', body: { age: 1 } },
    { method: 'POST', path: '/patients/1', body: patient('X1') },
    { method: 'PUT', path: '/patients', body: patient('X2') },
    { method: 'PATCH', path: '/patients', body: { age: 3 } },
    { method: 'DELETE', path: '/patients' },
  ])('$method $path', async (req) => {
    await expectSame(req);
  });

  it.each([
    '/patients',
    '/patients?_sort=name',
    '/patients?_page=2&_limit=5',
    '/patients?_sort=age&_order=desc&_start=0&_end=4',
    '/patients?q=smith-jones',
    '/patients?age=59',
    '/patients?id=4',
  ])('GET %s after the writes', async (path) => {
    await expectSame({ path });
  });
});

/**
 * Deliberate divergences: where json-server 0.17.4 has a quirk or a bug ([Q] in
 * ../shared/docs/json-server-0.17.4.md), this service does the sane thing. Each case checks what
 * json-server does (so the list stays true) and what we do instead. These run last: they leave the
 * two data sets different.
 */
describe('json-server 0.17.4 side by side: deliberate divergences', () => {
  it('validation: json-server stores an incomplete or mistyped record (201); we answer 400 with field issues', async () => {
    const body = { name: 'Nobody', age: 'abc', gender: 'Unknown', lastVisit: 'not-a-date' };
    const { theirs, mine } = await both({ method: 'POST', path: '/patients', body });
    expect(theirs.status).toBe(201);
    expect(mine.status).toBe(400);
    const paths = (mine.body as { issues: { path: string[] }[] }).issues.map((i) => i.path[0]);
    expect(paths).toEqual(expect.arrayContaining(['patientID', 'age', 'gender', 'medicalCondition', 'lastVisit']));
  });

  it('PUT with a partial body: json-server drops the missing fields; we answer 400 and keep the record', async () => {
    const { theirs, mine } = await both({ method: 'PUT', path: '/patients/5', body: { name: 'Alex M.' } });
    expect(theirs.status).toBe(200);
    expect(theirs.body).toEqual({ id: 5, name: 'Alex M.' });
    expect(mine.status).toBe(400);
    expect(((await send(ours.baseUrl, { path: '/patients/5' })).body as { name: string }).name).toBe('Alex Morgan');
  });

  it('PATCH with null: json-server stores null; we answer 400', async () => {
    const { theirs, mine } = await both({ method: 'PATCH', path: '/patients/6', body: { lastVisit: null } });
    expect(theirs.status).toBe(200);
    expect(mine.status).toBe(400);
  });

  it('client-chosen ids: json-server uses the id from the body; ours come from the sequence only (400)', async () => {
    const { theirs, mine } = await both({ method: 'POST', path: '/patients', body: { ...patient('N100'), id: 100 } });
    expect(theirs.status).toBe(201);
    expect((theirs.body as { id: number }).id).toBe(100);
    expect(mine.status).toBe(400);
  });

  it('ids are never reused: json-server hands out max(id)+1 again after the highest is deleted', async () => {
    const created = await both({ method: 'POST', path: '/patients', body: patient('N200') });
    const theirId = (created.theirs.body as { id: number }).id;
    const myId = (created.mine.body as { id: number }).id;
    await both({ method: 'DELETE', path: `/patients/${theirId}` });
    if (myId !== theirId) await send(ours.baseUrl, { method: 'DELETE', path: `/patients/${myId}` });
    const again = await both({ method: 'POST', path: '/patients', body: patient('N201') });
    expect((again.theirs.body as { id: number }).id).toBe(theirId);
    expect((again.mine.body as { id: number }).id).toBe(myId + 1);
  });

  it('a body that is not JSON: json-server creates an empty record (201); we answer 415', async () => {
    const req = { method: 'POST', path: '/patients', body: 'name=x', headers: { 'content-type': 'text/plain' } };
    const { theirs, mine } = await both(req);
    expect(theirs.status).toBe(201);
    expect(mine.status).toBe(415);
  });

  it('malformed JSON: both 400, json-server with an HTML page and a stack trace, we with JSON', async () => {
    const { theirs, mine } = await both({ method: 'POST', path: '/patients', body: '{"name":' });
    expect(theirs.status).toBe(400);
    expect(theirs.headers['content-type']).toContain('text/html');
    expect(mine.status).toBe(400);
    expect(mine.body).toEqual({ message: 'Failed to parse request body', code: 'PARSE_ERROR' });
  });

  it('an invalid _like pattern: json-server fails with 500 and a stack trace; we answer 400', async () => {
    const { theirs, mine } = await both({ path: '/patients?name_like=(' });
    expect(theirs.status).toBe(500);
    expect(mine.status).toBe(400);
    expect((mine.body as { code: string }).code).toBe('BAD_REQUEST');
  });

  it('a repeated _sort: json-server fails with 500; we sort by each in turn', async () => {
    const { theirs, mine } = await both({ path: '/patients?_sort=gender&_sort=age' });
    expect(theirs.status).toBe(500);
    expect(mine.status).toBe(200);
    const sorted = await send(ours.baseUrl, { path: '/patients?_sort=gender,age' });
    expect(mine.body).toEqual(sorted.body);
  });

  it('negative or non-numeric slice bounds: json-server slices with JavaScript quirks; we answer 400', async () => {
    for (const q of ['_limit=-1', '_start=-2&_end=3', '_end=abc', '_start=x&_limit=2', '_page=1&_limit=-1']) {
      const { theirs, mine } = await both({ path: `/patients?${q}` });
      expect(theirs.status, q).toBe(200);
      expect(mine.status, q).toBe(400);
    }
  });

  it("_page=0 or _page=abc: both serve page 1, but json-server's Link points every rel at the unchanged URL", async () => {
    const { theirs, mine } = await both({ path: '/patients?_page=0&_limit=2' });
    expect(mine.body).toEqual(theirs.body);
    expect(theirs.headers.link).toContain('<http://HOST/patients?_page=0&_limit=2>; rel="next"');
    expect(mine.headers.link).toContain('<http://HOST/patients?_page=2&_limit=2>; rel="next"');
  });

  it('_embed/_expand: json-server embeds related resources (none exist: empty arrays); there are none here, so we ignore them', async () => {
    const { theirs, mine } = await both({ path: '/patients?_embed=visits' });
    expect((theirs.body as { visits: unknown[] }[])[0]?.visits).toEqual([]);
    expect(mine.body).toEqual((await send(ours.baseUrl, { path: '/patients' })).body);
  });

  it('CORS: json-server reflects any origin with credentials; we allow only CORS_ORIGINS', async () => {
    const { theirs, mine } = await both({ path: '/patients', headers: { origin: 'http://evil.example' } });
    expect(theirs.headers['access-control-allow-origin']).toBe('http://evil.example');
    expect(mine.headers['access-control-allow-origin']).toBeNull();
  });
});
