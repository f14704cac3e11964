#!/usr/bin/env node
// Usage: node infra/launcher/bin/run-ts.js <file.ts> [args...]
require('./register');
const path = require('node:path');
const [, , entry, ...rest] = process.argv;
if (!entry) {
  console.error('usage: run-ts <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(entry), ...rest];
require(path.resolve(entry));
