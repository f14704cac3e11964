// kafkajs computes the CRC32C of every record batch it produces with a byte-at-a-time table
// loop (node_modules/kafkajs/src/protocol/recordBatch/crc32C/crc32C.js), the producer's main
// cost for large messages. Deltaflow's own CRC32C (libs/checksum: aligned 32-bit slicing) gives
// the same values several times faster. This puts it in kafkajs's place, in Node's module
// cache, before kafkajs loads that file; it checks both agree first, else leaves kafkajs alone.
// Loaded by register.js (every service, the CLI, the broker, benchmarks); DELTAFLOW_KAFKAJS_CRC=js
// turns it off.
const Module = require('node:module');
const path = require('node:path');

module.exports = function installFastKafkajsCrc(root) {
  if (process.env.DELTAFLOW_KAFKAJS_CRC === 'js') return false;
  let file;
  try {
    file = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js', { paths: [root] });
  } catch {
    return false; // kafkajs not installed here
  }
  if (require.cache[file]) return false; // too late: kafkajs already holds its own
  const { crc32c } = require(path.join(root, 'libs', 'checksum', 'src', 'crc32c.ts'));
  const original = require(file);
  const probe = Buffer.alloc(4099);
  for (let i = 0; i < probe.length; i++) probe[i] = (i * 2654435761) >>> 24;
  for (const [s, e] of [[0, 0], [0, 1], [1, 4099], [3, 1030], [0, 4099]]) {
    if (original(probe.subarray(s, e)) !== crc32c(probe, 0, s, e)) return false;
  }
  const m = new Module(file, null);
  m.filename = file;
  m.loaded = true;
  m.exports = Object.assign((buffer) => crc32c(buffer), { deltaflow: true });
  require.cache[file] = m;
  return true;
};
