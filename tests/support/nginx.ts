import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  /** The port nginx serves HTTPS on, at 127.0.0.1 (public host `localhost:<port>`). */
  port: number;
  /** The certificate nginx presents (self-signed, for `localhost` and 127.0.0.1): the client's CA. */
  ca: Buffer;
  /** nginx's error log so far (for a failing test's message). */
  errors(): string;
  stop(): Promise<void>;
}

/**
 * A real nginx (the Debian package) terminating TLS in front of `upstreamPort`, configured as the
 * README tells operators to: it sets X-Forwarded-Proto/Host/For and removes any `Forwarded` a
 * client sent. Everything it writes (config, certificate, pid, logs, temp files) is in a temp dir,
 * so it runs as root without touching /etc or /var. It is one process (no daemon, no master and
 * workers), this process' child: `stop()` ends exactly that process.
 */
export async function startNginx(upstreamPort: number): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'hm-nginx-'));
  try {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    // The port is found free, then bound by nginx: another process may take it in between, so
    // a start that fails on a taken port is retried on a new one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      writeFileSync(join(dir, 'nginx.conf'), config(dir, port, upstreamPort, cert, key));
      const child = spawn(NGINX, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const errors = () => `${stderr}${readOr(join(dir, 'error.log'))}`;
      if (await ready(port, exited)) {
        return {
          port,
          ca: readFileSync(cert),
          errors,
          async stop() {
            await end(child, exited);
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await end(child, exited);
      if (attempt < 3 && /Address already in use/.test(errors())) continue;
      throw new Error(`nginx did not start:\n${errors()}`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function config(dir: string, port: number, upstreamPort: number, cert: string, key: string): string {
  for (const temp of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, temp), { recursive: true });
  // As root, nginx would switch to `nobody`, who cannot enter the 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  return `
${user}
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # A client's own Forwarded header is of no use downstream: drop it.
      proxy_set_header Forwarded "";
    }
  }
}
`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** true once nginx accepts connections on the port; false if it exits first or takes over 10 s. */
async function ready(port: number, exited: Promise<number | null>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open && !gone) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Ends this nginx: one process (no daemon, no master), our child. */
async function end(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
