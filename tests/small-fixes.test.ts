/**
 * Small fixes with nowhere better to live: `Vary: Origin` on every response, and no install-time
 * telemetry from @scarf/scarf (pulled in by swagger-ui-dist).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { ROOT } from './support/process.ts';

const ALLOWED = 'http://localhost:5173';

describe('Vary: Origin', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: `${ALLOWED},http://localhost:3000` });
  });
  afterAll(() => t?.stop());

  /** How often `Origin` is named in the response's Vary (0 when there is no Vary). */
  const varyOrigin = (res: Response) =>
    (res.headers.get('vary') ?? '')
      .split(',')
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v === 'origin').length;

  // Without Vary on the answer to a request without Origin, a shared cache may store it and hand it
  // to a browser at an allowed origin, which then gets no Access-Control-Allow-Origin (and the other
  // way round). Every response whose CORS headers depend on Origin must say so, exactly once.
  it.each([
    ['without Origin', undefined],
    ['from a disallowed Origin', 'http://evil.example'],
    ['from an allowed Origin', ALLOWED],
  ])('is on every kind of response %s, exactly once', async (_, origin) => {
    const headers: Record<string, string> = origin ? { origin } : {};
    for (const path of ['/patients', '/health', '/trpc/health', '/openapi.json', '/no-such-route']) {
      const res = await fetch(`${t.baseUrl}${path}`, { headers });
      await res.arrayBuffer();
      expect(varyOrigin(res), `${path} ${origin ?? '(no Origin)'}`).toBe(1);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin === ALLOWED ? ALLOWED : null);
    }
    const created = await fetch(`${t.baseUrl}/patients`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: '{',
    });
    expect(created.status).toBe(400);
    expect(varyOrigin(created)).toBe(1);
  });

  it('preflights still vary on Origin and the requested headers, each once', async () => {
    for (const origin of [ALLOWED, 'http://evil.example']) {
      const res = await fetch(`${t.baseUrl}/patients`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('vary')).toBe('Origin, Access-Control-Request-Headers');
    }
  });
});

describe('@scarf/scarf install telemetry', () => {
  it('is switched off in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scarfSettings?: { enabled?: unknown } };
    expect(pkg.scarfSettings?.enabled).toBe(false);
  });

  /**
   * Runs @scarf/scarf's own postinstall script (report.js) as `npm install` would for the project at
   * `root`, with SCARF_LOCAL_PORT pointing its report at a local server instead of scarf.sh (so a
   * failing run sends nothing anywhere). The environment is built from scratch: SCARF_ANALYTICS,
   * DO_NOT_TRACK and the like would switch it off by themselves and hide a missing setting.
   */
  function runScarf(root: string) {
    return new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--require', join(tmp, 'no-exec-timeout.cjs'), join(ROOT, 'node_modules/@scarf/scarf/report.js')],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? tmp,
            TMPDIR: tmp,
            INIT_CWD: root,
            SCARF_LOCAL_PORT: String(port),
            SCARF_VERBOSE: 'true',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out));
    });
  }

  let tmp: string;
  let collector: Server;
  let port: number;
  const reports: string[] = [];
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'scarf-'));
    // report.js gives its `npm ls` 3 s, which this project's tree can take on a busy machine: it then
    // gives up ("error from npm -ls") and proves nothing. Lift that one limit; the rest runs as is.
    writeFileSync(
      join(tmp, 'no-exec-timeout.cjs'),
      "const cp = require('node:child_process'); const exec = cp.exec;\n" +
        'cp.exec = (command, options, callback) => exec(command, { ...options, timeout: 0 }, callback);\n',
    );
    collector = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        reports.push(`${req.method} ${req.url}`);
        res.end('ok');
      });
    });
    // report.js sends to `localhost`; listen where that name resolves first.
    await new Promise<void>((resolve) => collector.listen(0, 'localhost', resolve));
    port = (collector.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => collector?.close(resolve));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('its own postinstall reads the setting and sends nothing, where a project without it would report', { timeout: 60_000 }, async () => {
    // The control: a minimal project that depends on swagger-ui-dist, without scarfSettings. It shows
    // that this harness does see a report, so the silence below means something.
    const probe = join(tmp, 'probe');
    mkdirSync(join(probe, 'node_modules/swagger-ui-dist'), { recursive: true });
    mkdirSync(join(probe, 'node_modules/@scarf/scarf'), { recursive: true });
    writeFileSync(
      join(probe, 'package.json'),
      JSON.stringify({ name: 'scarf-probe', version: '1.0.0', dependencies: { 'swagger-ui-dist': '*' } }),
    );
    const ui = JSON.parse(readFileSync(join(ROOT, 'node_modules/swagger-ui-dist/package.json'), 'utf8')) as {
      version: string;
      dependencies: Record<string, string>;
    };
    writeFileSync(
      join(probe, 'node_modules/swagger-ui-dist/package.json'),
      JSON.stringify({ name: 'swagger-ui-dist', version: ui.version, dependencies: ui.dependencies }),
    );
    writeFileSync(
      join(probe, 'node_modules/@scarf/scarf/package.json'),
      readFileSync(join(ROOT, 'node_modules/@scarf/scarf/package.json')),
    );

    const [ours, control] = await Promise.all([runScarf(ROOT), runScarf(probe)]);
    expect(control).toContain('Response status: 200');
    expect(reports).toEqual(['POST /package-event/install']);
    expect(ours).toMatch(/Scarf has been disabled via a package\.json in the dependency chain|User has opted out/);
    expect(ours).not.toContain('Scarf payload');
  });
});
