/**
 * The legacy frontend as it runs in production: a page served over HTTPS from a hosted origin,
 * calling the API over HTTPS through a TLS-terminating proxy (a real nginx), in a real headless
 * Chromium. Run by `npm run test:e2e` (and by .ci/run, which installs nginx and chromium).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type ConsoleMessage, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { type ServerProcess, startServerProcess } from '../support/process.ts';
import { CHROMIUM, NGINX, startNginx } from './support/stack.ts';

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));

interface Step {
  name: string;
  ok: boolean;
  detail?: string;
}

describe.runIf(existsSync(NGINX) && CHROMIUM)('the legacy frontend in a real browser, HTTPS through nginx', () => {
  let db: TestDatabase;
  let service: ServerProcess;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let browser: Browser;
  let api: string;
  let allowedOrigin: string;
  let otherOrigin: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const servicePort = await freePort();
    // The API, the allowed frontend origin, and a frontend origin the API does not allow.
    nginx = await startNginx([{ proxyTo: servicePort }, { root: PAGE_DIR }, { root: PAGE_DIR }]);
    const [apiPort, allowedPort, otherPort] = nginx.ports;
    api = `https://localhost:${apiPort}`;
    allowedOrigin = `https://localhost:${allowedPort}`;
    otherOrigin = `https://localhost:${otherPort}`;
    service = startServerProcess({
      DATABASE_URL: db.url,
      MIGRATE_ON_START: 'true',
      PORT: String(servicePort),
      TRUST_PROXY: '1',
      CORS_ORIGINS: allowedOrigin,
    });
    await service.listening;
    for (const n of [1, 2, 3]) {
      const res = await fetch(`http://127.0.0.1:${servicePort}/patients`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          patientID: `E2E-S${n}`,
          name: `Seeded ${n}`,
          age: 30 + n,
          gender: 'Other',
          medicalCondition: 'None',
          lastVisit: `2024-01-0${n}`,
        }),
      });
      expect(res.status).toBe(201);
    }
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      acceptInsecureCerts: true,
      args: ['--no-sandbox', '--ignore-certificate-errors', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (service) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await nginx?.stop();
    await db?.drop();
  });

  /** Opens the page from `origin` against the API; resolves with its steps and the console's errors. */
  async function runPage(origin: string): Promise<{ steps: Step[]; errors: string[]; page: Page }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error' || /Mixed Content/i.test(m.text())) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${origin}/index.html?api=${encodeURIComponent(api)}`, { waitUntil: 'load' });
    await page.waitForFunction('window.__done === true', { timeout: 20_000 });
    const steps = (await page.evaluate('window.__steps')) as Step[];
    return { steps, errors, page };
  }

  it('from the allowed origin every step works: list, create, follow Location, patch, page with X-Total-Count, follow Link next, delete; no console error', async () => {
    const { steps, errors, page } = await runPage(allowedOrigin);
    expect(steps.filter((s) => !s.ok)).toEqual([]);
    expect(steps.map((s) => s.name)).toEqual([
      'list',
      'create',
      'follow Location',
      'patch',
      'page 1',
      'follow Link next',
      'delete',
      'gone',
    ]);
    // The URLs the API handed out point at the public HTTPS address, not the service behind nginx.
    expect(steps.find((s) => s.name === 'create')?.detail).toMatch(new RegExp(`^Location ${api}/patients/\\d+$`));
    expect(steps.find((s) => s.name === 'page 1')?.detail).toMatch(new RegExp(`^next ${api}/patients\\?_page=2&_limit=2$`));
    // Chromium logs every 4xx response as a console error: the only one is the deliberate read of
    // the deleted patient. No mixed content, no CORS error, no script error.
    expect(errors).toEqual([expect.stringMatching(/status of 404/)]);
    expect(await page.$eval('#total', (e) => e.textContent)).toBe('4');
    expect(await page.$$eval('#patients tbody tr', (rows) => rows.length)).toBe(3);
    await page.close();
  });

  it('from an origin the API does not allow, the browser blocks the calls (CORS)', async () => {
    const { steps, errors, page } = await runPage(otherOrigin);
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatchObject({ name: 'error', ok: false });
    expect(errors.join('\n')).toMatch(/blocked by CORS policy/);
    await page.close();
  });

  it('/docs renders with no network beyond this machine, and "Execute" of GET /patients answers 200', async () => {
    const page = await browser.newPage();
    const outside: string[] = [];
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const url = new URL(request.url());
      // Inline images (data: URLs) are not network requests.
      if (url.protocol === 'data:' || url.hostname === 'localhost' || url.hostname === '127.0.0.1') void request.continue();
      else {
        outside.push(url.origin);
        void request.abort();
      }
    });
    await page.goto(`${api}/docs`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#operations-patients-patient-list', { timeout: 20_000 });
    await page.click('#operations-patients-patient-list .opblock-summary');
    await page.waitForSelector('#operations-patients-patient-list .try-out__btn');
    await page.click('#operations-patients-patient-list .try-out__btn');
    await page.click('#operations-patients-patient-list .execute');
    const cell = '#operations-patients-patient-list .live-responses-table tbody .response-col_status';
    await page.waitForSelector(cell, { timeout: 20_000 });
    const status = await page.$eval(cell, (e) => e.textContent?.trim());
    expect(status).toBe('200');
    expect(outside).toEqual([]);
    await page.close();
  });
});
