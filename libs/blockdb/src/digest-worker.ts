import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { areaCode, type BlockRange, type Geometry } from '@deltaflow/blocks';
import { AREA_FILES } from './header';

/*
 * BlockDatabase.digest on a worker thread: the worker opens the area files itself, reads the used
 * ranges in 256 KiB chunks and hashes them (the same bytes as digestBlocks), so nothing is copied
 * between threads and the calling thread stays free (a restore flushes meanwhile).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const { files, sizes, ranges, chunk } = workerData;
const h = createHash('sha256');
const key = Buffer.alloc(5);
const fds = {};
try {
  for (const r of ranges) {
    const fd = (fds[r.area] ??= fs.openSync(files[r.area], 'r'));
    const bs = sizes[r.area];
    const per = Math.max(1, Math.floor(chunk / bs));
    const buf = Buffer.allocUnsafe(per * bs);
    for (let rabn = r.from; rabn <= r.to; rabn += per) {
      const n = Math.min(per, r.to - rabn + 1);
      const len = n * bs;
      for (let done = 0; done < len; ) {
        const got = fs.readSync(fd, buf, done, len - done, (rabn - 1) * bs + done);
        if (got === 0) throw new Error(r.area + ' file shorter than its header says');
        done += got;
      }
      for (let i = 0; i < n; i++) {
        key[0] = r.code;
        key.writeUInt32LE(rabn + i, 1);
        h.update(key);
        h.update(buf.subarray(i * bs, (i + 1) * bs));
      }
    }
  }
  parentPort.postMessage({ digest: h.digest('hex') });
} catch (e) {
  parentPort.postMessage({ error: String(e && e.message || e) });
} finally {
  for (const fd of Object.values(fds)) fs.closeSync(fd);
}
`;

/** The digest of the used ranges of the database in `dir`, computed on a worker thread. */
export function digestOnWorker(dir: string, geometry: Geometry, ranges: readonly BlockRange[], chunk: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        files: { ASSO: path.join(dir, AREA_FILES.ASSO), DATA: path.join(dir, AREA_FILES.DATA) },
        sizes: { ASSO: geometry.asso.blockSize, DATA: geometry.data.blockSize },
        ranges: ranges.map((r) => ({ area: r.area, code: areaCode(r.area), from: r.from, to: r.to })),
        chunk,
      },
    });
    worker.once('message', (m: { digest?: string; error?: string }) => (m.digest ? resolve(m.digest) : reject(new Error(`digest: ${m.error}`))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`digest worker exited (${code})`)));
  });
}
