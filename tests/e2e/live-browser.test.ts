/**
 * Live updates in a real browser: a page served over HTTPS from the allowed frontend origin keeps
 * an `EventSource` on the API's `GET /patients/events`, over HTTPS through the TLS-terminating
 * nginx, cross-origin (CORS), in headless Chromium, and renders every patient it hears of
 * (tests/e2e/page/live.html). Writes come from outside the browser. Run by `npm run test:e2e`.
 *
 * Between nginx and the service sits a TCP proxy (tests/support/proxy.ts) so that a test can cut
 * the connection as a network failure would: the browser's EventSource then reconnects by itself
 * and resumes with the Last-Event-ID header, through nginx.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type ConsoleMessage, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { type ServerProcess, startServerProcess } from '../support/process.ts';
import { type DbProxy, startDbProxy } from '../support/proxy.ts';
import { CHROMIUM, NGINX, startNginx } from './support/stack.ts';

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));

/**
 * How soon an event must be on the page after its write was acknowledged. Far above what it takes
 * (milliseconds), far below the 5 s between pings: a proxy that buffered the stream would hold the
 * frame until its buffer filled or the stream ended.
 */
const PROMPT_MS = 3_000;

interface LiveState {
  opens: number;
  errors: number;
  eventIds: number[];
  lastEventId: string;
}

describe.runIf(existsSync(NGINX) && CHROMIUM)('live updates in a real browser: EventSource over HTTPS through nginx', () => {
  let db: TestDatabase;
  let service: ServerProcess;
  let servicePort: number;
  let cut: DbProxy;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let browser: Browser;
  let page: Page;
  let api: string;
  let origin: string;
  const errors: string[] = [];
  let serial = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    servicePort = await freePort();
    // A plain TCP proxy (written for the database, it forwards any TCP): nginx → proxy → service.
    cut = await startDbProxy(`http://127.0.0.1:${servicePort}/`);
    nginx = await startNginx([{ proxyTo: Number(new URL(cut.url).port) }, { root: PAGE_DIR }]);
    const [apiPort, pagePort] = nginx.ports;
    api = `https://localhost:${apiPort}`;
    origin = `https://localhost:${pagePort}`;
    service = startServerProcess({
      DATABASE_URL: db.url,
      MIGRATE_ON_START: 'true',
      PORT: String(servicePort),
      TRUST_PROXY: '1',
      CORS_ORIGINS: origin,
    });
    await service.listening;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      acceptInsecureCerts: true,
      args: ['--no-sandbox', '--ignore-certificate-errors', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${origin}/live.html?api=${encodeURIComponent(api)}`, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (service) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await nginx?.stop();
    await cut?.close();
    await db?.drop();
  });

  /** A write from outside the browser, straight to the service; resolves with the new patient's id. */
  async function createPatient(name: string): Promise<{ id: number; patientID: string }> {
    const patientID = `LIVE-${++serial}`;
    const res = await fetch(`http://127.0.0.1:${servicePort}/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ patientID, name, age: 50, gender: 'Female', medicalCondition: 'None', lastVisit: '2024-06-01' }),
    });
    expect(res.status).toBe(201);
    return { id: ((await res.json()) as { id: number }).id, patientID };
  }

  /** Resolves once the page shows `text` for patient `id`. */
  const shows = (id: number, text: string, timeout = PROMPT_MS) =>
    page.waitForFunction(
      (id: number, text: string) => document.querySelector(`#live li[data-id="${id}"]`)?.textContent === text,
      { timeout, polling: 'mutation' },
      id,
      text,
    );

  const live = () => page.evaluate(() => (window as unknown as { __live: LiveState }).__live);

  /** Every event once, in event-id order. */
  const expectOrderedOnce = (ids: number[]) => {
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  };

  it('the page opens the stream (CORS, through nginx) and shows a patient created and then changed by another client', async () => {
    await page.waitForFunction(() => (window as unknown as { __live: LiveState }).__live.opens === 1, { timeout: 10_000 });
    const ada = await createPatient('Ada Live');
    await shows(ada.id, `${ada.patientID} Ada Live (create)`);
    const patched = await fetch(`http://127.0.0.1:${servicePort}/patients/${ada.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada Lovelace' }),
    });
    expect(patched.status).toBe(200);
    await shows(ada.id, `${ada.patientID} Ada Lovelace (update)`);
    expect(await page.$eval('#state', (e) => e.textContent)).toBe('open');
    const state = await live();
    expect(state.eventIds).toHaveLength(2);
    expectOrderedOnce(state.eventIds);
    expect(state.lastEventId).toBe(String(state.eventIds[1]));
    expect(errors).toEqual([]);
  });

  it('closed by the page and opened again with ?lastEventId=, it gets what was written in between, once', async () => {
    const before = await live();
    await page.evaluate(() => (window as unknown as { __liveClose(): void }).__liveClose());
    const grace = await createPatient('Grace While Closed');
    await page.evaluate((after) => (window as unknown as { __liveOpen(after: string): void }).__liveOpen(after), before.lastEventId);
    await shows(grace.id, `${grace.patientID} Grace While Closed (create)`);
    const after = await live();
    expect(after.opens).toBe(before.opens + 1);
    expect(after.eventIds).toHaveLength(before.eventIds.length + 1);
    expectOrderedOnce(after.eventIds);
    expect(errors).toEqual([]);
  });

  it('after a network cut the EventSource reconnects by itself and resumes with Last-Event-ID: a write made while it was away arrives, once', async () => {
    const before = await live();
    let hopper: { id: number; patientID: string };
    // Drop the connection between nginx and the service (and refuse new ones for a moment).
    cut.down();
    try {
      await page.waitForFunction(() => (window as unknown as { __live: LiveState }).__live.errors > 0, { timeout: 10_000 });
      // Written while the browser is away: the reconnect (1 s later, `retry: 1000`) necessarily
      // comes after it, so only a resume from Last-Event-ID can bring it (a fresh stream starts at
      // the newest event).
      hopper = await createPatient('Hopper While Away');
    } finally {
      cut.up();
    }
    await shows(hopper.id, `${hopper.patientID} Hopper While Away (create)`, 10_000);
    const after = await live();
    expect(after.opens).toBe(before.opens + 1);
    expect(after.eventIds).toHaveLength(before.eventIds.length + 1);
    expectOrderedOnce(after.eventIds);
    expect(await page.$eval('#state', (e) => e.textContent)).toBe('open');
    // The cut, as the browser saw it: nginx closed the response without its last chunk. Nothing else.
    expect(errors).toEqual([expect.stringMatching(/ERR_INCOMPLETE_CHUNKED_ENCODING/)]);
  });
});
