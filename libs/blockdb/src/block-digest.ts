import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { areaCode, type Area } from '@deltaflow/blocks';

/*
 * The database digest (BlockDatabase.digest: SHA-256 over area code u8, RABN u32 LE, image of
 * every used block in (area, RABN) order), fed block by block, hashed on a worker thread so the
 * SHA-256 (about 1 GiB/s here, as costly as everything else a restore does) runs on another core
 * while the caller goes on writing. Blocks are packed (key, image, key, image...) into slots of a
 * SharedArrayBuffer; the worker hashes a full slot in one update and hands it back (Atomics). The
 * caller waits only when every slot is full, i.e. when hashing is the slower side.
 */
const SLOTS = 8;
const SLOT_BYTES = 1 << 20;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { sab, slots, slotBytes } = workerData;
const ctl = new Int32Array(sab, 0, slots * 2);
const data = new Uint8Array(sab, slots * 8);
const h = createHash('sha256');
for (let i = 0; ; i = (i + 1) % slots) {
  while (Atomics.load(ctl, 2 * i) !== 1) Atomics.wait(ctl, 2 * i, 0);
  const len = ctl[2 * i + 1];
  if (len < 0) break;
  h.update(data.subarray(i * slotBytes, i * slotBytes + len));
  Atomics.store(ctl, 2 * i, 0);
  Atomics.notify(ctl, 2 * i);
}
parentPort.postMessage(h.digest('hex'));
`;

/** Incremental database digest; `add` blocks in (area, RABN) order, then `finish`. */
export class BlockDigest {
  private readonly hash: Hash | null;
  private readonly worker: Worker | null;
  private readonly ctl: Int32Array | null;
  private readonly data: Uint8Array | null;
  private readonly result: Promise<string> | null;
  private slot = 0;
  private used = 0;
  private readonly key = Buffer.alloc(5);
  private done = false;

  /** `parallel` (default true): hash on a worker thread; false, or if no worker can start, in this thread. */
  constructor(parallel = true) {
    let worker: Worker | null = null;
    let sab: SharedArrayBuffer | null = null;
    if (parallel) {
      try {
        sab = new SharedArrayBuffer(SLOTS * 8 + SLOTS * SLOT_BYTES);
        worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sab, slots: SLOTS, slotBytes: SLOT_BYTES } });
      } catch {
        worker = null;
      }
    }
    this.worker = worker;
    if (worker && sab) {
      this.hash = null;
      this.ctl = new Int32Array(sab, 0, SLOTS * 2);
      this.data = new Uint8Array(sab, SLOTS * 8);
      this.result = new Promise<string>((resolve, reject) => {
        worker.once('message', (m) => resolve(String(m)));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`digest worker exited (${code})`)));
      });
      this.result.catch(() => undefined);
    } else {
      this.hash = createHash('sha256');
      this.ctl = null;
      this.data = null;
      this.result = null;
    }
  }

  /** Adds the next block (in (area, RABN) order). */
  add(area: Area, rabn: number, image: Uint8Array): void {
    const k = this.key;
    k[0] = areaCode(area);
    k.writeUInt32LE(rabn, 1);
    if (this.hash) {
      this.hash.update(k);
      this.hash.update(image);
      return;
    }
    this.put(k);
    this.put(image);
  }

  private put(bytes: Uint8Array): void {
    const data = this.data as Uint8Array;
    let off = 0;
    while (off < bytes.length) {
      if (this.used === SLOT_BYTES) this.send(SLOT_BYTES);
      const n = Math.min(bytes.length - off, SLOT_BYTES - this.used);
      data.set(off === 0 && n === bytes.length ? bytes : bytes.subarray(off, off + n), this.slot * SLOT_BYTES + this.used);
      this.used += n;
      off += n;
    }
  }

  /** Hands the current slot (`len` bytes, -1 = end) to the worker and waits until the next slot is free. */
  private send(len: number): void {
    const ctl = this.ctl as Int32Array;
    const i = this.slot;
    ctl[2 * i + 1] = len;
    Atomics.store(ctl, 2 * i, 1);
    Atomics.notify(ctl, 2 * i);
    this.slot = (i + 1) % SLOTS;
    this.used = 0;
    if (len < 0) return;
    // Blocks this thread while the worker is behind (it hashes a slot in about a millisecond);
    // a worker that stopped is noticed after a minute without progress.
    for (let waited = 0; Atomics.load(ctl, 2 * this.slot) !== 0; ) {
      if (Atomics.wait(ctl, 2 * this.slot, 1, 100) === 'timed-out' && (waited += 100) >= 60_000)
        throw new Error('the digest worker stopped hashing');
    }
  }

  /** The hex digest of everything added. */
  async finish(): Promise<string> {
    if (this.done) throw new Error('digest already finished');
    this.done = true;
    if (this.hash) return this.hash.digest('hex');
    if (this.used > 0) this.send(this.used);
    this.send(-1);
    try {
      return await (this.result as Promise<string>);
    } finally {
      await this.worker?.terminate();
    }
  }

  /** Stops the worker without a result (after a failure). */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.worker?.terminate();
  }
}
