// The server a developer would write by hand in an afternoon: node:http + pg, plain SQL.
// Used only by `npm run bench` as a peer. Not tuned on purpose.
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const COLUMNS = `id, patient_id, name, age, gender, medical_condition, to_char(last_visit, 'YYYY-MM-DD') as last_visit`;
const toPatient = (r) => ({
  id: r.id,
  patientID: r.patient_id,
  name: r.name,
  age: r.age,
  gender: r.gender,
  medicalCondition: r.medical_condition,
  lastVisit: r.last_visit,
});

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return JSON.parse(data);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    const idMatch = /^\/patients\/(\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && url.pathname === '/health') {
      await pool.query('select 1');
      return send(res, 200, { status: 'healthy', database: 'connected', timestamp: new Date().toISOString() });
    }
    if (req.method === 'GET' && url.pathname === '/patients') {
      const params = [];
      let where = '';
      if (url.searchParams.has('gender')) {
        params.push(url.searchParams.get('gender'));
        where = `where gender = $${params.length}`;
      }
      const sortBy = url.searchParams.get('_sort');
      const sort = sortBy === 'name' ? 'name collate "C", id' : sortBy === 'age' ? 'age, id' : 'id';
      let sql = `select ${COLUMNS} from patients ${where} order by ${sort}`;
      const headers = {};
      if (url.searchParams.has('_page')) {
        const limit = Number(url.searchParams.get('_limit') ?? 10);
        const page = Number(url.searchParams.get('_page'));
        params.push(limit, (page - 1) * limit);
        sql += ` limit $${params.length - 1} offset $${params.length}`;
        const count = await pool.query(`select count(*)::int as n from patients ${where}`, params.slice(0, params.length - 2));
        headers['X-Total-Count'] = String(count.rows[0].n);
      }
      const { rows } = await pool.query(sql, params);
      return send(res, 200, rows.map(toPatient), headers);
    }
    if (req.method === 'GET' && idMatch) {
      const { rows } = await pool.query(`select ${COLUMNS} from patients where id = $1`, [idMatch[1]]);
      return rows[0] ? send(res, 200, toPatient(rows[0])) : send(res, 404, {});
    }
    if (req.method === 'POST' && url.pathname === '/patients') {
      const p = await readJson(req);
      const { rows } = await pool.query(
        `insert into patients (patient_id, name, age, gender, medical_condition, last_visit) values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
        [p.patientID, p.name, p.age, p.gender, p.medicalCondition, p.lastVisit],
      );
      return send(res, 201, toPatient(rows[0]), { Location: `/patients/${rows[0].id}` });
    }
    if (req.method === 'PATCH' && idMatch) {
      const p = await readJson(req);
      const { rows } = await pool.query(
        `update patients set name = coalesce($2, name), age = coalesce($3, age), medical_condition = coalesce($4, medical_condition), updated_at = now() where id = $1 returning ${COLUMNS}`,
        [idMatch[1], p.name ?? null, p.age ?? null, p.medicalCondition ?? null],
      );
      return rows[0] ? send(res, 200, toPatient(rows[0])) : send(res, 404, {});
    }
    send(res, 404, {});
  } catch (_err) {
    send(res, 500, { message: 'Internal server error' });
  }
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
