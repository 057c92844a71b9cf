import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../src/net.ts';

export const NGINX = '/usr/sbin/nginx';
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => {
  try {
    execFileSync(p, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

/** A self-signed certificate for localhost and 127.0.0.1 (one day). */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

export interface Site {
  /** Reverse proxy to this local HTTP port, or static files from this directory. */
  proxyTo?: number;
  root?: string;
}

/**
 * A real nginx terminating TLS on 127.0.0.1, one `server` per site, everything (pid, logs,
 * temp files) in a temp dir of its own: it runs as root without touching /etc or /var.
 */
export async function startNginx(sites: Site[]): Promise<{ ports: number[]; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-'));
  for (const sub of ['logs', 'body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const { cert, key } = makeCertificate(dir);
  const ports = await Promise.all(sites.map(() => freePort()));
  const servers = sites.map((site, i) => {
    const target = site.proxyTo
      ? `location / {
          proxy_pass http://127.0.0.1:${site.proxyTo};
          proxy_http_version 1.1;
          proxy_set_header Host $host;
          proxy_set_header X-Forwarded-Proto $scheme;
          proxy_set_header X-Forwarded-Host $http_host;
          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
          proxy_buffering off;
        }`
      : `root ${site.root}; location / { try_files $uri =404; }`;
    return `server {
      listen 127.0.0.1:${ports[i]} ssl;
      server_name localhost;
      ssl_certificate ${cert};
      ssl_certificate_key ${key};
      ${target}
    }`;
  });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
    worker_processes 1;
    pid ${dir}/nginx.pid;
    error_log ${dir}/logs/error.log warn;
    events { worker_connections 256; }
    http {
      access_log off;
      client_body_temp_path ${dir}/body;
      proxy_temp_path ${dir}/proxy;
      fastcgi_temp_path ${dir}/fastcgi;
      uwsgi_temp_path ${dir}/uwsgi;
      scgi_temp_path ${dir}/scgi;
      types { text/html html; text/javascript js; text/css css; }
      ${servers.join('\n')}
    }`,
  );
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const port of ports) await waitForPort(port, () => stderr);
  return {
    ports,
    async stop() {
      child.kill('SIGQUIT');
      await exited;
    },
  };
}

async function waitForPort(port: number, why: () => string) {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${why()}`);
}
