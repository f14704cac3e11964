import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/**
 * Whether a Docker engine answers, decided quickly (≤ timeoutMs): DOCKER_HOST tcp://, or the
 * default Unix socket. Used to run testcontainers variants of a suite only where they can run.
 */
export async function dockerAvailable(timeoutMs = 1000): Promise<boolean> {
  const host = process.env.DOCKER_HOST;
  let target: net.NetConnectOpts;
  if (host?.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    target = { host: u.hostname, port: Number(u.port || 2375) };
  } else {
    const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
    if (!fs.existsSync(socketPath)) return false;
    target = { path: socketPath };
  }
  return new Promise((resolve) => {
    const socket = net.connect(target);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      // An engine answers /_ping with OK.
      socket.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
    });
    socket.once('data', (chunk) => done(/^HTTP\/1\.[01] 200/.test(chunk.toString('latin1'))));
  });
}

/**
 * The same check, synchronously (for choosing describe or describe.skip while jest collects
 * tests): runs dockerAvailable in a child node process.
 */
export function dockerAvailableSync(timeoutMs = 1000): boolean {
  if (!process.env.DOCKER_HOST && !fs.existsSync('/var/run/docker.sock')) return false;
  const script = `(${dockerAvailable.toString()})(${timeoutMs}).then((ok) => process.exit(ok ? 0 : 1))`;
  const r = spawnSync(process.execPath, ['-e', `const fs = require('node:fs'); const net = require('node:net'); ${script}`], {
    timeout: timeoutMs + 2000,
    stdio: 'ignore',
  });
  return r.status === 0;
}
