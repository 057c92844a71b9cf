// A stand-in for the legacy React frontend: the same calls, in plain JS. The API base URL comes
// from the query string (the real app reads VITE_API_BASE_URL at build time).
const API = new URLSearchParams(location.search).get('api');
window.__steps = [];

function step(name, ok, detail) {
  window.__steps.push({ name, ok, detail });
  const li = document.createElement('li');
  li.textContent = `${ok ? 'ok' : 'FAILED'} ${name}${detail ? `: ${detail}` : ''}`;
  document.getElementById('log').append(li);
}

function render(patients) {
  const body = document.querySelector('#patients tbody');
  body.replaceChildren(
    ...patients.map((p) => {
      const tr = document.createElement('tr');
      for (const key of ['id', 'patientID', 'name', 'age']) {
        const td = document.createElement('td');
        td.textContent = String(p[key]);
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** json-server's Link header: `<url>; rel="next", ...` */
function links(header) {
  const out = {};
  for (const part of (header || '').split(',')) {
    const m = /<([^>]+)>;\s*rel="(\w+)"/.exec(part);
    if (m) out[m[2]] = m[1];
  }
  return out;
}

async function main() {
  const list = await fetch(`${API}/patients`);
  const patients = await list.json();
  render(patients);
  step('list', list.status === 200 && Array.isArray(patients), `${patients.length} patients`);

  const form = new FormData(document.getElementById('create'));
  const body = Object.fromEntries(form.entries());
  body.age = Number(body.age);
  const created = await fetch(`${API}/patients`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const patient = await created.json();
  const location = created.headers.get('Location');
  step('create', created.status === 201 && typeof patient.id === 'number', `Location ${location}`);

  const followed = await fetch(location);
  step('follow Location', followed.status === 200 && (await followed.json()).patientID === body.patientID, location);

  const patched = await fetch(`${API}/patients/${patient.id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ age: 43 }) });
  step('patch', patched.status === 200 && (await patched.json()).age === 43);

  const first = await fetch(`${API}/patients?_page=1&_limit=2`);
  const total = Number(first.headers.get('X-Total-Count'));
  document.getElementById('total').textContent = String(total);
  const next = links(first.headers.get('Link')).next;
  step('page 1', first.status === 200 && total === patients.length + 1 && typeof next === 'string', `next ${next}`);
  const second = await fetch(next);
  const page2 = await second.json();
  step('follow Link next', second.status === 200 && page2.length > 0 && page2[0].id !== (await first.json())[0].id, next);

  const deleted = await fetch(`${API}/patients/${patient.id}`, { method: 'DELETE' });
  step('delete', deleted.status === 200);
  const gone = await fetch(`${API}/patients/${patient.id}`);
  step('gone', gone.status === 404);
}

main()
  .catch((error) => step('error', false, String(error)))
  .finally(() => {
    window.__done = true;
  });
