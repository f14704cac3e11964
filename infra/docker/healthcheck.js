#!/usr/bin/env node
// Container health check of a Deltaflow service (Dockerfile HEALTHCHECK, docker-compose.yml):
// GET http://127.0.0.1:<port>/health; healthy (exit 0) on a 2xx answer within the timeout,
// unhealthy (exit 1) otherwise, with one line saying why (`docker inspect` shows it).
// The port is the service's own: <SERVICE>_HTTP_PORT, else HTTP_PORT, else 8080, as
// libs/service-kit's loadServiceConfig reads it. HEALTHCHECK_PORT, HEALTHCHECK_PATH and
// HEALTHCHECK_TIMEOUT_MS override; a path given as the first argument wins (Kubernetes probes
// /health/ready this way). With HTTP_TOKEN (or HTTP_TOKEN_FILE) set, it sends the bearer token
// the services then require. Plain Node, no dependencies: the image has no curl.
'use strict';
const http = require('node:http');

/** The port the service in this container listens on, from its environment. */
function healthPort(env = process.env) {
  const service = (env.SERVICE || '').toUpperCase().replace(/-/g, '_');
  const own = service ? env[`${service}_HTTP_PORT`] : undefined;
  const raw = env.HEALTHCHECK_PORT || own || env.HTTP_PORT || '8080';
  const port = Number(raw);
  if (!/^[0-9]+$/.test(raw) || port < 1 || port > 65535) throw new Error(`health check: no usable port ("${raw}")`);
  return port;
}

/** The services' bearer token (HTTP_TOKEN, else the first line of HTTP_TOKEN_FILE), or undefined. */
function httpToken(env = process.env) {
  if (env.HTTP_TOKEN) return env.HTTP_TOKEN;
  if (!env.HTTP_TOKEN_FILE) return undefined;
  const fs = require('node:fs');
  return fs.readFileSync(env.HTTP_TOKEN_FILE, 'utf8').split(/\r?\n/)[0];
}

/** Resolves { ok, detail }: ok when GET <path> answers 2xx within timeoutMs. Never rejects. */
function check({ host = '127.0.0.1', port, path = '/health', timeoutMs = 4000, token }) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok, detail) => {
      if (settled) return;
      settled = true;
      resolve({ ok, detail });
    };
    const req = http.get({ host, port, path, timeout: timeoutMs, headers: { 'user-agent': 'deltaflow-healthcheck', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        if (size < 512) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 200).replace(/\s+/g, ' ');
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        done(ok, `GET ${path} on port ${port}: ${res.statusCode}${body ? ` ${body}` : ''}`);
      });
      res.on('error', (e) => done(false, `GET ${path} on port ${port}: ${e.message}`));
    });
    req.on('timeout', () => {
      req.destroy();
      done(false, `GET ${path} on port ${port}: no answer within ${timeoutMs} ms`);
    });
    req.on('error', (e) => done(false, `GET ${path} on port ${port}: ${e.code || e.message}`));
  });
}

async function main() {
  let port;
  try {
    port = healthPort();
  } catch (e) {
    console.log(e.message);
    process.exit(1);
  }
  const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 4000);
  let token;
  try {
    token = httpToken();
  } catch (e) {
    console.log(`unhealthy: ${e.message}`);
    process.exit(1);
  }
  const path = process.argv[2] || process.env.HEALTHCHECK_PATH || '/health';
  const { ok, detail } = await check({ port, path, timeoutMs, token });
  console.log(`${ok ? 'healthy' : 'unhealthy'}: ${detail}`);
  process.exit(ok ? 0 : 1);
}

module.exports = { healthPort, httpToken, check };
if (require.main === module) main();
