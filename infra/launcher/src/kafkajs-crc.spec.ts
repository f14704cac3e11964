/**
 * Every Deltaflow process started through run-ts/register.js gives kafkajs Deltaflow's CRC32C
 * (bin/kafkajs-crc.js). Checked in a fresh Node process, as jest has its own module registry:
 * kafkajs's crc32C module is the replacement, and its values equal kafkajs's own table loop.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '@deltaflow/processes';

const script = `
require(${JSON.stringify(path.join(ROOT, 'infra/launcher/bin/register.js'))});
const replaced = require('kafkajs/src/protocol/recordBatch/crc32C');
const { Encoder } = require('kafkajs/src/protocol/encoder');
const file = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js');
const Module = require('node:module');
// kafkajs's original, loaded apart from the module cache
const m = new Module(file, null); m.filename = file; m.paths = Module._nodeModulePaths(require('node:path').dirname(file));
m._compile(require('node:fs').readFileSync(file, 'utf8'), file);
const original = m.exports;
const out = [];
for (const n of [0, 1, 7, 4096, 262144 + 3]) {
  const b = require('node:crypto').randomBytes(n);
  out.push([replaced(b), original(b) >>> 0]);
}
console.log(JSON.stringify({ fast: require.cache[file].exports.deltaflow === true, out }));
`;

describe('kafkajs with Deltaflow CRC32C', () => {
  it('replaces kafkajs CRC32C with one that gives the same values', () => {
    const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as { fast: boolean; out: [number, number][] };
    expect(r.fast).toBe(true);
    for (const [mine, theirs] of r.out) expect(mine).toBe(theirs);
    expect(new Set(r.out.map(([a]) => a)).size).toBe(r.out.length);
  });

  it('leaves kafkajs alone when DELTAFLOW_KAFKAJS_CRC=js', () => {
    const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DELTAFLOW_KAFKAJS_CRC: 'js' } })) as { fast: boolean };
    expect(r.fast).toBe(false);
  });
});
