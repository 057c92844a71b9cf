// The ceiling for unshareable reads: uWebSockets.js + pg, one prepared statement per answer, the
// JSON (and a page's total) built by PostgreSQL. No validation, no framework, no coalescing.
// Used only by `npm run bench` as a peer ("uws-pg"); answers the read scenarios' routes only.

import uWS from 'uWebSockets.js';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const PATIENT = `json_build_object('id', id, 'patientID', patient_id, 'name', name, 'age', age, 'gender', gender,
  'medicalCondition', medical_condition, 'lastVisit', to_char(last_visit, 'YYYY-MM-DD'))`;
const byId = { name: 'by_id', text: `select ${PATIENT}::text as j from patients where id = $1` };
const SORTS = { id: 'id', name: 'name collate "C", id', age: 'age, id' };
/** One statement per (filter?, sort): the page as JSON and the total of matches (a window over the filter). */
const pages = new Map();
const pageStatement = (filtered, sort) => {
  const key = `${filtered}:${sort}`;
  let statement = pages.get(key);
  if (!statement) {
    const where = filtered ? 'where gender = $3' : '';
    // The page's JSON is built for its rows only; the total is a count in the same statement.
    statement = {
      name: `page_${filtered ? 'g' : 'all'}_${sort}`,
      text: `select coalesce((select json_agg(${PATIENT} order by n) from (select *, row_number() over () as n
                from (select * from patients ${where} order by ${SORTS[sort]} limit $1 offset $2) s) p), '[]')::text as j,
              (select count(*) from patients ${where})::int as total`,
    };
    pages.set(key, statement);
  }
  return statement;
};

/** json-server's Link header for a page (first, prev, next, last). */
function link(host, query, page, limit, total) {
  const last = Math.max(1, Math.ceil(total / limit));
  const url = (n) => `<http://${host}/patients?${query.replace(/_page=\d+/, `_page=${n}`)}>`;
  const parts = [`${url(1)}; rel="first"`];
  if (page > 1) parts.push(`${url(page - 1)}; rel="prev"`);
  if (page < last) parts.push(`${url(page + 1)}; rel="next"`);
  parts.push(`${url(last)}; rel="last"`);
  return parts.join(', ');
}

function answer(res, work) {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  work.then(
    ([status, body, headers]) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(status);
        res.writeHeader('content-type', 'application/json; charset=utf-8');
        for (const [name, value] of Object.entries(headers ?? {})) res.writeHeader(name, value);
        res.end(body);
      });
    },
    () => {
      if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end('{"message":"Internal server error"}'));
    },
  );
}

const app = uWS.App();
app.get('/health', (res) =>
  answer(
    res,
    pool.query('select 1').then(() => ['200 OK', '{"status":"healthy"}']),
  ),
);
app.get('/patients/:id', (res, req) => {
  const id = Number(req.getParameter(0));
  answer(
    res,
    pool.query({ ...byId, values: [id] }).then(({ rows }) => (rows[0] ? ['200 OK', rows[0].j] : ['404 Not Found', '{}'])),
  );
});
app.get('/patients', (res, req) => {
  const query = req.getQuery() ?? '';
  const host = req.getHeader('host');
  const q = new URLSearchParams(query);
  const page = Number(q.get('_page') ?? 1);
  const limit = Number(q.get('_limit') ?? 10);
  const gender = q.get('gender');
  const sort = SORTS[q.get('_sort')] ? q.get('_sort') : 'id';
  const values = [limit, (page - 1) * limit, ...(gender ? [gender] : [])];
  answer(
    res,
    pool
      .query({ ...pageStatement(Boolean(gender), sort), values })
      .then(({ rows }) => [
        '200 OK',
        rows[0].j,
        { 'x-total-count': String(rows[0].total), link: link(host, query, page, limit, rows[0].total) },
      ]),
  );
});
app.any('/*', (res) => res.writeStatus('404 Not Found').end('{}'));

app.listen('127.0.0.1', Number(process.env.PORT ?? 0), (token) => {
  if (!token) process.exit(1);
  console.log(JSON.stringify({ listening: uWS.us_socket_local_port(token) }));
});
process.on('SIGTERM', () => {
  app.close();
  pool.end().then(() => process.exit(0));
});
