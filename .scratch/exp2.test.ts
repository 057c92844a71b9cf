import { execSync } from 'node:child_process';
import { it } from 'vitest';
import { startTestApp, samplePatient } from '../tests/support/app.ts';
import { openSse, until } from '../tests/support/sse.ts';

it('exp', async () => {
  const t = await startTestApp({ LIVE_MAX_QUEUED: '50', LOG_LEVEL: 'info' });
  const port = t.app.port;
  const good = openSse(port);
  const slow = openSse(port, { paused: true });
  await good.connected;
  await new Promise((r) => setTimeout(r, 200));
  let closedAt = -1;
  void slow.closed.then((c) => { closedAt = good.events.length; console.log('slow closed', c, 'good has', good.events.length); });
  const started = Date.now();
  const long = 'x'.repeat(250);
  let n = 0;
  while (closedAt < 0 && n < 6000) {
    await Promise.all(Array.from({ length: 50 }, () => { const i = n++; return fetch(`${t.baseUrl}/patients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(samplePatient({ patientID: `S${i}`, name: long, medicalCondition: long })) }).then((r) => r.status); }));
    if (n % 1000 === 0) { console.log(n, Date.now() - started, 'good', good.events.length, 'slow read', slow.socket.bytesRead, slow.events.length, slow.socket.readableFlowing, slow.socket.readableLength);
      console.log(execSync(`ss -tmni '( sport = :${port} or dport = :${port} )'`).toString()); }
  }
  good.destroy();
  await t.stop();
}, 120000);
