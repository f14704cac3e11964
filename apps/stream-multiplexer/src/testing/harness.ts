/** The multiplexer's test helpers: client file contents, reading a client file back from the events, a device that fails on cue. */
import { createHash } from 'node:crypto';
import type { MessageOfType } from '@deltaflow/contracts';
import { DelegatingDevice, readClientFile, TapeIoError, type Device, type OpenRecord } from '@deltaflow/tape';

/** Deterministic pseudo-random bytes for `name` (xorshift; fast enough for hundreds of MiB). */
export function content(name: string, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = [...name].reduce((a, c) => (Math.imul(a, 31) + c.charCodeAt(0)) >>> 0, 2166136261) || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  for (; i < size; i++) b[i] = i & 0xff;
  return b;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The open record a ClientFileOpened event describes. */
export function openOf(e: MessageOfType<'ClientFileOpened'>): OpenRecord {
  const codec = { compression: e.compression, encryption: e.encryption, ...(e.compressionLevel ? { level: e.compressionLevel } : {}), ...(e.keyId ? { keyId: e.keyId, wrappedKey: e.wrappedKey } : {}) };
  return { incarnation: e.incarnation, clientFile: e.clientFile, stream: e.stream, openedAt: e.occurredAt, codec, ...(e.dbid ? { dbid: e.dbid } : {}) } as OpenRecord;
}

/** Reads a client file back from its RunPlaced events (seeking to its runs only). */
export async function readBack(device: Device, opened: MessageOfType<'ClientFileOpened'>, runs: Array<MessageOfType<'RunPlaced'>>, close?: MessageOfType<'ClientFileClosed'>): Promise<Buffer> {
  const parts: Buffer[] = [];
  const placements = runs.map((r) => ({ volser: r.volser, position: r.position, extent: r.length, incarnation: r.incarnation, firstSeq: r.firstSeq, count: r.superblocks, crcs: r.crcs }));
  for await (const b of readClientFile(device, openOf(opened), placements, close ? { close: { incarnation: close.incarnation, superblocks: close.superblocks, bytes: close.bytes, sha256: close.sha256, closedAt: close.occurredAt } } : {}))
    parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

/** A device that fails (an I/O error, or hangs) once `failAfterBytes` were appended, until healed. */
export class FailingDevice extends DelegatingDevice {
  appended = 0;
  failAfterBytes = Infinity;
  mode: 'error' | 'hang' = 'error';
  failures = 0;
  override async append(records: ReadonlyArray<readonly Buffer[]>): Promise<number[]> {
    let n = 0;
    for (const r of records) for (const b of r) n += b.length;
    if (this.appended + n > this.failAfterBytes) {
      this.failures++;
      if (this.mode === 'hang') return new Promise(() => undefined);
      // half of it reaches the volume, as a real write error leaves it
      const half = records.slice(0, Math.floor(records.length / 2));
      if (half.length) await this.inner.append(half);
      throw new TapeIoError(`injected I/O error on ${this.name} after ${this.appended} bytes`);
    }
    this.appended += n;
    return this.inner.append(records);
  }
}
