/**
 * Child process [N] of `bench:gateway`: Debian's nginx doing the gateway's job the way an nginx
 * operator would, as the reference for what a reverse proxy costs on this machine: a static map
 * from the `Authorization` header to a key id (401 in the error envelope when it maps to
 * nothing), `limit_req` per key id with limits nobody reaches, the trusted headers set and the
 * credential cleared, `proxy_pass` over an upstream keep-alive pool. One worker, no access log
 * (the gateway under test logs nothing per request at POWERTOOLS_LOG_LEVEL=ERROR either).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../local/redis-server.ts';
import { spawnChild, stderrOf } from './children.ts';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxSettings {
  /** The session manager's base URL, `http://127.0.0.1:<port>`. */
  readonly upstreamUrl: string;
  /** The one API key it accepts, and what it maps to. */
  readonly key: string;
  readonly keyId: string;
  readonly plan: string;
  /** `x-axon-gateway-secret` for the session manager. */
  readonly secret: string;
  readonly port: number;
  /** Requests per second and burst of `limit_req`: above any offered load. */
  readonly limit: number;
}

/** Values go into double-quoted nginx strings; the benchmark's own values never need escaping. */
function quoted(value: string): string {
  if (!/^[A-Za-z0-9_.:/ -]+$/.test(value)) {
    throw new Error(`refusing to write ${JSON.stringify(value)} into nginx.conf`);
  }
  return `"${value}"`;
}

export function nginxConf(s: NginxSettings): string {
  const upstream = new URL(s.upstreamUrl);
  const unauthorized = JSON.stringify({
    error: {
      message: 'The API key is missing or invalid.',
      type: 'authentication_error',
      code: 'invalid_api_key',
    },
  });
  return `worker_processes 1;
pid nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  map_hash_bucket_size 256;
  map $http_authorization $axon_key_id {
    ${quoted(`Bearer ${s.key}`)} ${quoted(s.keyId)};
    default "";
  }
  limit_req_zone $axon_key_id zone=keys:1m rate=${s.limit}r/s;
  upstream session_manager {
    server ${upstream.host};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${s.port};
    location = /healthz { return 200 '{"status":"ok"}'; }
    location /v1/ {
      if ($axon_key_id = "") {
        add_header WWW-Authenticate 'Bearer realm="axon"' always;
        return 401 '${unauthorized}';
      }
      limit_req zone=keys burst=${s.limit} nodelay;
      limit_req_status 429;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_set_header x-axon-key-id $axon_key_id;
      proxy_set_header x-axon-plan ${quoted(s.plan)};
      proxy_set_header x-axon-gateway-secret ${quoted(s.secret)};
      proxy_set_header x-request-id $request_id;
      proxy_pass http://session_manager;
    }
  }
}
`;
}

export interface Nginx {
  readonly url: string;
  readonly version: string;
  readonly process: ChildProcess;
  /** Removes the prefix directory (after the process has stopped). */
  cleanup(): void;
}

export function nginxVersion(): string | undefined {
  const run = spawnSync(NGINX_BIN, ['-v'], { encoding: 'utf8' });
  if (run.error || run.status !== 0) return undefined;
  return (run.stderr || run.stdout).trim().replace(/^nginx version:\s*/, '');
}

/** Starts nginx in the foreground (master + one worker) and resolves once it answers. */
export async function startNginx(settings: Omit<NginxSettings, 'port'>): Promise<Nginx> {
  const version = nginxVersion();
  if (!version) {
    throw new Error(`${NGINX_BIN} not found: apt-get install -y nginx (or set NGINX_BIN)`);
  }
  const prefix = mkdtempSync(join(tmpdir(), 'axon-bench-nginx-'));
  const port = await freePort();
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, nginxConf({ ...settings, port }));
  const cleanup = () => rmSync(prefix, { recursive: true, force: true });
  const args = ['-p', prefix, '-c', confPath, '-e', join(prefix, 'error.log')];
  const test = spawnSync(NGINX_BIN, [...args, '-t', '-q'], { encoding: 'utf8' });
  if (test.status !== 0) {
    cleanup();
    throw new Error(`nginx rejected its config:\n${test.stderr}`);
  }

  // The caller's stopAll() stops the process; the prefix goes with cleanup().
  const child = spawnChild('nginx', NGINX_BIN, [...args, '-g', 'daemon off; master_process on;']);
  const url = `http://127.0.0.1:${port}`;
  try {
    await answering(child, url);
  } catch (err) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    cleanup();
    throw err;
  }
  return { url, version, process: child, cleanup };
}

async function answering(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited:\n${stderrOf(child)}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not answer on ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
