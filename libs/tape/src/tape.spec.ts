import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  decodeLabel,
  decodeSuperblock,
  encodeLabel,
  encodeSuperblock,
  MAX_SUPERBLOCK_PAYLOAD,
  Placement,
  readClientFile,
  readSuperblockAt,
  readVolumeLabel,
  scanStreamFile,
  scanVolume,
  TapeCorruptError,
  TapeValidationError,
  volumePath,
  VolumeWriter,
} from './index';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tape-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const label = (volser: string, sequence: number, capacity = 1 << 20) => ({
  volser,
  stream: 'NIGHTLY',
  streamFile: 'SF1',
  sequence,
  createdAt: 1_800_000_000_000,
  capacity,
});

/** Deterministic bytes for client file `name`. */
function content(name: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = [...name].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * Writes client files interleaved, superblock by superblock, onto volumes of `capacity` bytes,
 * mounting the next volume when one is full (as the stream multiplexer does).
 */
async function writeInterleaved(files: Record<string, Buffer>, capacity: number, sbSize = MAX_SUPERBLOCK_PAYLOAD) {
  const placements: Placement[] = [];
  const cursors = Object.entries(files).map(([name, data]) => ({ name, data, off: 0, seq: 0, done: false }));
  let volSeq = 1;
  let w = await VolumeWriter.create(dir, label(`V${volSeq}`, volSeq, capacity));
  while (cursors.some((c) => !c.done)) {
    for (const c of cursors) {
      if (c.done) continue;
      const payload = c.data.subarray(c.off, c.off + sbSize);
      const last = c.off + payload.length >= c.data.length;
      const sb = { stream: 'NIGHTLY', clientFile: c.name, seq: c.seq, last, payload };
      let p = await w.append(sb);
      if (!p) {
        await w.close();
        volSeq++;
        w = await VolumeWriter.create(dir, label(`V${volSeq}`, volSeq, capacity));
        p = await w.append(sb);
      }
      if (!p) throw new Error('superblock larger than a volume');
      placements.push(p);
      c.off += payload.length;
      c.seq++;
      c.done = last;
    }
  }
  await w.close();
  return { placements, volumes: Array.from({ length: volSeq }, (_, i) => volumePath(dir, `V${i + 1}`)) };
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(Buffer.from(b));
  return Buffer.concat(parts);
}

async function errorOf(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('volume label', () => {
  it('round-trips and detects a flipped byte', () => {
    const bytes = encodeLabel(label('ABC123', 2));
    expect(decodeLabel(bytes)).toMatchObject(label('ABC123', 2));
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i] ^= 0x10;
      expect(() => decodeLabel(bad)).toThrow(TapeCorruptError);
    }
  });

  it('rejects bad names before anything is written', async () => {
    expect(() => encodeLabel(label('../X', 1))).toThrow(TapeValidationError);
    expect(() => encodeLabel({ ...label('A', 1), stream: 'a b' })).toThrow(TapeValidationError);
    await expect(VolumeWriter.create(dir, label('toolong1', 1))).rejects.toThrow(TapeValidationError);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('superblock', () => {
  it('holds at most 256 KiB of one client file', () => {
    const big = { stream: 'S', clientFile: 'c', seq: 0, last: true, payload: Buffer.alloc(MAX_SUPERBLOCK_PAYLOAD + 1) };
    expect(() => encodeSuperblock(big, 100, 1)).toThrow(TapeValidationError);
    const ok = encodeSuperblock({ ...big, payload: Buffer.alloc(MAX_SUPERBLOCK_PAYLOAD, 3) }, 100, 1);
    const d = decodeSuperblock(ok);
    expect(d).toMatchObject({ stream: 'S', clientFile: 'c', seq: 0, last: true, offset: 100, volumeTag: 1 });
    expect(d.payload.length).toBe(MAX_SUPERBLOCK_PAYLOAD);
  });

  it('rejects a payload whose announced CRC differs', () => {
    expect(() => encodeSuperblock({ stream: 'S', clientFile: 'c', seq: 0, last: true, payload: Buffer.from('x'), crc: 1 }, 0, 0)).toThrow(
      TapeCorruptError,
    );
  });
});

describe('volume writer, reader and scanner', () => {
  const files = () => ({ 'db7.full.1-0': content('a', 700_000), 'db7.delta.1-1': content('b', 300_000), 'dsim.1-1': content('c', 5) });

  it('interleaves client files over several volumes and reads each back from its placements', async () => {
    const f = files();
    const { placements, volumes } = await writeInterleaved(f, 600_000);
    expect(volumes.length).toBeGreaterThan(1);
    for (const [name, data] of Object.entries(f)) {
      const mine = placements.filter((p) => p.clientFile === name);
      expect((await collect(readClientFile(dir, mine.reverse()))).equals(data)).toBe(true);
    }
    expect((await readVolumeLabel(volumes[1])).sequence).toBe(2);
  });

  it('SCANSTREAMFILE rebuilds every placement from the volumes alone', async () => {
    const f = files();
    const { placements, volumes } = await writeInterleaved(f, 600_000);
    const scan = await scanStreamFile([...volumes].reverse());
    expect(scan.problems).toEqual([]);
    expect(scan.missingVolumes).toEqual({});
    expect(scan.clientFiles.map((c) => c.clientFile)).toEqual(Object.keys(f).sort());
    for (const c of scan.clientFiles) {
      expect(c.complete).toBe(true);
      expect(c.bytes).toBe(f[c.clientFile as keyof typeof f].length);
      const written = placements.filter((p) => p.clientFile === c.clientFile);
      expect(c.placements).toEqual(written);
      expect((await collect(readClientFile(dir, c.placements))).equals(f[c.clientFile as keyof typeof f])).toBe(true);
    }
  });

  it('reports a missing volume and the client files it leaves incomplete', async () => {
    const { volumes } = await writeInterleaved(files(), 400_000);
    expect(volumes.length).toBeGreaterThan(2);
    const scan = await scanStreamFile(volumes.filter((_, i) => i !== 1));
    expect(scan.missingVolumes).toEqual({ SF1: [2] });
    expect(scan.clientFiles.some((c) => !c.complete && c.missing.length > 0)).toBe(true);
  });

  it('refuses a superblock that no longer fits, writing nothing', async () => {
    const w = await VolumeWriter.create(dir, label('V1', 1, 1000));
    const sb = { stream: 'NIGHTLY', clientFile: 'x', seq: 0, last: true, payload: Buffer.alloc(2000) };
    const before = w.used;
    expect(await w.append(sb)).toBeNull();
    expect(w.used).toBe(before);
    await w.close();
    expect(fs.statSync(volumePath(dir, 'V1')).size).toBe(before);
  });

  it('a truncated volume is reported with the position of the torn superblock', async () => {
    const { placements, volumes } = await writeInterleaved(files(), 10 << 20);
    const size = fs.statSync(volumes[0]).size;
    const lastP = placements[placements.length - 1];
    fs.truncateSync(volumes[0], size - 3);
    const scan = await scanVolume(volumes[0]);
    expect(scan.problems).toHaveLength(1);
    expect(scan.problems[0]).toMatchObject({ kind: 'truncated', offset: lastP.offset, resumedAt: null });
    expect(scan.superblocks).toHaveLength(placements.length - 1);
    const strict = await errorOf(scanVolume(volumes[0], { strict: true }));
    expect(strict).toBeInstanceOf(TapeCorruptError);
    expect(strict.position.offset).toBe(lastP.offset);
    const e = await errorOf(readSuperblockAt(dir, lastP));
    expect(e).toBeInstanceOf(TapeCorruptError);
    expect(e.message).toMatch(/truncated/);

    // Reopening for append cuts the torn tail and continues after the last good superblock.
    const { writer, cut } = await VolumeWriter.reopen(dir, 'V1');
    expect(cut?.offset).toBe(lastP.offset);
    const p = await writer.append({ stream: 'NIGHTLY', clientFile: 'more', seq: 0, last: true, payload: Buffer.from('hello') });
    await writer.close();
    expect(p?.offset).toBe(lastP.offset);
    expect((await scanVolume(volumes[0])).problems).toEqual([]);
  });

  it('a damaged superblock is reported with its offset; the scan resumes at the next one', async () => {
    const { placements, volumes } = await writeInterleaved(files(), 10 << 20);
    const k = placements.findIndex((p, i) => i > 0 && i < placements.length - 1 && p.length > 1000);
    const victim = placements[k];
    const buf = fs.readFileSync(volumes[0]);
    buf[victim.offset + 200] ^= 0xff; // inside its payload
    fs.writeFileSync(volumes[0], buf);
    const scan = await scanStreamFile(volumes);
    expect(scan.problems).toHaveLength(1);
    expect(scan.problems[0]).toMatchObject({ kind: 'corrupt', offset: victim.offset, resumedAt: placements[k + 1].offset });
    const hit = scan.clientFiles.find((c) => c.clientFile === victim.clientFile);
    expect(hit?.complete).toBe(false);
    expect(hit?.missing).toEqual([victim.seq]);
    const e = await errorOf(collect(readClientFile(dir, placements.filter((p) => p.clientFile === victim.clientFile))));
    expect(e).toBeInstanceOf(TapeCorruptError);
    expect(e.position).toMatchObject({ volser: 'V1', offset: victim.offset });
  });

  it('property: a flipped byte or a truncation anywhere is never returned as good data', async () => {
    const f = { one: content('p', 90_000), two: content('q', 40_000) };
    const { placements, volumes } = await writeInterleaved(f, 10 << 20, 16_384);
    const pristine = fs.readFileSync(volumes[0]);
    await fc.assert(
      fc.asyncProperty(fc.nat(pristine.length - 1), fc.boolean(), fc.integer({ min: 1, max: 255 }), async (at, truncate, mask) => {
        const bytes = truncate ? pristine.subarray(0, at) : Buffer.from(pristine);
        if (!truncate) bytes[at] ^= mask;
        fs.writeFileSync(volumes[0], bytes);
        for (const [name, data] of Object.entries(f)) {
          let got: Buffer | null = null;
          try {
            got = await collect(readClientFile(dir, placements.filter((p) => p.clientFile === name)));
          } catch (e) {
            expect(e).toBeInstanceOf(TapeCorruptError);
          }
          if (got) expect(got.equals(data)).toBe(true);
        }
        let scanned;
        try {
          scanned = await scanStreamFile(volumes);
        } catch {
          return;
        }
        // Whatever the scan lists as complete must read back exactly.
        for (const c of scanned.clientFiles.filter((x) => x.complete)) {
          const got = await collect(readClientFile(dir, c.placements));
          expect(got.equals(f[c.clientFile as keyof typeof f])).toBe(true);
        }
        // A truncation or flip must show up somewhere in the scan.
        const damaged = scanned.problems.length > 0 || scanned.volumes.length === 0;
        expect(damaged).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
