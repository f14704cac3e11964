#!/usr/bin/env node
// The npm registry reachable from our machines serves only the linux-x64 builds of
// native packages, so `npm install` writes a lockfile without the other platforms'
// optional dependencies and `npm ci` then refuses it as out of sync. This script
// records each missing optional dependency as an optional, platform-restricted entry
// so that `npm ci` accepts the lockfile and skips it on linux-x64.
// Run after `npm install` changes the lockfile: node infra/tools/lock-add-foreign-optionals.js
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

function platformOf(name) {
  const n = name.split('/').pop();
  const os = ['darwin', 'win32', 'android', 'freebsd', 'openharmony', 'linux', 'sunos', 'aix'].find((o) => n.includes(o));
  const cpu = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64'].find((c) => n.includes(`-${c}`));
  return { os, cpu };
}

let added = 0;
for (const [loc, meta] of Object.entries(packages)) {
  if (!loc || !meta.optionalDependencies) continue;
  for (const [dep, range] of Object.entries(meta.optionalDependencies)) {
    const nested = `${loc}/node_modules/${dep}`;
    const top = `node_modules/${dep}`;
    if (packages[nested] || packages[top]) continue;
    const { os, cpu } = platformOf(dep);
    const entry = { version: range.replace(/^[~^=]/, ''), dev: meta.dev, optional: true };
    if (!entry.dev) delete entry.dev;
    if (os) entry.os = [os];
    if (cpu) entry.cpu = [cpu];
    packages[top] = entry;
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(`lockfile: ${added} foreign-platform optional dependencies recorded`);
