import type { Throttle } from '@deltaflow/core';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { areaCode, extentRange, fcbRabn, fdtRabn, findFile, type Area } from '@deltaflow/blocks';
import { formatDsid, validateUnload } from '@deltaflow/dsid';
import type { Dsid } from '@deltaflow/dsid';
import { ReaderOptions, SaveFormatError } from '@deltaflow/save-format';
import { MergeError } from './errors';
import { checkSameShape, fanInOf, inPlanOrder, loadInputs } from './inputs';
import { mergeDataSets } from './merge';
import { PassProgress, runPass } from './pass';

/*
 * File unload format (ADAULD, "deltaflow-file-unload" version 1): readable without Deltaflow.
 *
 *   line 1   one JSON object (UTF-8) ending in "\n":
 *              format "deltaflow-file-unload", version 1, dbid, file, dsid (object) and dsidText
 *              (e.g. "1/0-2/2026-11-22T03:00:00.000Z@L1"), endLsn (the LSN the blocks stand at),
 *              blockSizes {ASSO, DATA}, dataOffset (byte offset of the first block = this line's
 *              length including the "\n"), blocks (count), bytes (block bytes), sha256 (hex, of all
 *              block bytes in file order), and sections: [{name, area, from, to, blocks, offset}]
 *              where name is FCB, FDT, or the extent's part (DATA, AC, INDEX), from..to the RABNs
 *              the blocks had in the database, offset the byte offset of the section's first block
 *              in this file.
 *   then     the raw blocks, section after section, each section's blocks in RABN order, each
 *            block exactly blockSizes[area] bytes. Sections come in (area, RABN) order: FCB, FDT,
 *            the ASSO extents (address converter, index), then the DATA extents.
 *
 * So `head -1 F | jq .sections` tells where everything is, and `dd if=F bs=1 skip=<offset>
 * count=<blocks*blockSize>` extracts a section.
 */
export const UNLOAD_FORMAT = 'deltaflow-file-unload';

export interface UnloadSection {
  readonly name: 'FCB' | 'FDT' | 'DATA' | 'AC' | 'INDEX';
  readonly area: Area;
  readonly from: number;
  readonly to: number;
  readonly blocks: number;
  readonly offset: number;
}

export interface UnloadHeader {
  readonly format: typeof UNLOAD_FORMAT;
  readonly version: 1;
  readonly dbid: number;
  readonly file: number;
  readonly dsid: Dsid;
  readonly dsidText: string;
  readonly endLsn: number;
  readonly blockSizes: { readonly ASSO: number; readonly DATA: number };
  readonly dataOffset: number;
  readonly blocks: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly sections: readonly UnloadSection[];
}

export interface UnloadRequest {
  /** a full save + any number of deltas (+ DSIMs), in any order */
  readonly inputs: readonly string[];
  /** the file number to unload */
  readonly file: number;
  /** path of the unload file; must not exist (written as `<out>.partial`, renamed when complete) */
  readonly out: string;
  readonly signal?: AbortSignal;
  readonly seedLimits?: boolean;
  /** most inputs read at once (default 32); beyond it they are merged first (mergeDataSets' cascade) into a temporary next to `out` */
  readonly fanIn?: number;
  readonly reader?: ReaderOptions;
  /** holds the input bytes read to a rate (shared by every operation given the same Throttle) */
  readonly throttle?: Throttle;
  /** fsync the file before it appears (default true) */
  readonly fsync?: boolean;
  readonly onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
}

export interface UnloadResult {
  readonly dsid: Dsid;
  /** blocks in the file */
  readonly blocks: number;
  /** size of the unload file in bytes (header line + blocks) */
  readonly bytes: number;
  readonly path: string;
  readonly header: UnloadHeader;
}

const ZERO_SHA = '0'.repeat(64);

/**
 * ADAULD with Delta Save (seed: "unload an Adabas file from a full save tape together with 1 to 8
 * delta save tapes and optionally a DSIM data set"): the file's FCB, FDT and extents, each block's
 * newest image over the inputs (k-way merge, newest wins; any number of inputs: beyond `fanIn`
 * they are first merged into one temporary data set), written as a plain file (format above). Inputs are checked by validateUnload (DSID rules, full save required)
 * before any block is read; nothing is left at `out` on any failure.
 */
export async function unloadFile(req: UnloadRequest): Promise<UnloadResult> {
  const fanIn = fanInOf(req.fanIn);
  if (!Number.isInteger(req.file) || req.file < 1 || req.file > 65535)
    throw new MergeError('VALIDATION', `file must be a file number (1..65535), got ${String(req.file)}`);
  const inputs = await loadInputs(req.inputs);
  const plan = validateUnload(
    inputs.map((i) => i.descriptor),
    { seedLimits: req.seedLimits },
  );
  checkSameShape(inputs, 'MERGE_INPUT_INVALID');
  const ordered = inPlanOrder(inputs, plan.inputs);
  const first = ordered[0].header;
  const g = first.geometry;
  const def = findFile(g, req.file);
  if (!def) throw new MergeError('VALIDATION', `file ${req.file} is not defined in the database`);
  if (fs.existsSync(req.out)) throw new SaveFormatError('ALREADY_EXISTS', `${req.out} exists`);

  const bs = { ASSO: g.asso.blockSize, DATA: g.data.blockSize };
  const ranges: { name: UnloadSection['name']; area: Area; from: number; to: number }[] = [
    { name: 'FCB' as const, area: 'ASSO' as const, from: fcbRabn(req.file), to: fcbRabn(req.file) },
    { name: 'FDT' as const, area: 'ASSO' as const, from: fdtRabn(req.file), to: fdtRabn(req.file) },
    ...def.extents.map((e) => ({ name: e.part, ...extentRange(e) })),
  ].sort((a, b) => areaCode(a.area) - areaCode(b.area) || a.from - b.from);
  let bytes = 0;
  const sizedSections = ranges.map((r) => {
    const blocks = r.to - r.from + 1;
    const s = { ...r, blocks, rel: bytes };
    bytes += blocks * bs[r.area];
    return s;
  });
  const blocks = sizedSections.reduce((n, s) => n + s.blocks, 0);
  const header = (dataOffset: number, sha256: string): UnloadHeader => ({
    format: UNLOAD_FORMAT,
    version: 1,
    dbid: first.dbid,
    file: req.file,
    dsid: plan.output,
    dsidText: formatDsid(plan.output),
    endLsn: Math.max(...ordered.map((i) => i.header.endLsn)),
    blockSizes: bs,
    dataOffset,
    blocks,
    bytes,
    sha256,
    sections: sizedSections.map(({ rel, ...s }) => ({ ...s, offset: dataOffset + rel })),
  });
  // The header line states its own length: settle on a fixpoint (the digits of dataOffset).
  let line = '';
  for (let d = 0; ; ) {
    line = JSON.stringify(header(d, ZERO_SHA)) + '\n';
    const len = Buffer.byteLength(line);
    if (len === d) break;
    d = len;
  }
  const dataOffset = Buffer.byteLength(line);

  const partial = `${req.out}.partial`;
  const merged = `${req.out}.merged`;
  fs.mkdirSync(path.dirname(path.resolve(req.out)), { recursive: true });
  let sources = ordered.map((i) => i.path);
  if (sources.length > fanIn) {
    try {
      await mergeDataSets({ inputs: sources, output: merged, fanIn, writer: { fsync: false }, reader: req.reader, signal: req.signal });
    } catch (e) {
      fs.rmSync(merged, { force: true });
      throw e;
    }
    sources = [merged];
  }
  const fh = await fs.promises.open(partial, 'wx').catch((e) => {
    fs.rmSync(merged, { force: true });
    throw e;
  });
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  let used = 0;
  let at = dataOffset;
  const flushBuf = async () => {
    if (used === 0) return;
    hash.update(buf.subarray(0, used));
    let done = 0;
    while (done < used) done += (await fh.write(buf, done, used - done, at + done)).bytesWritten;
    at += used;
    used = 0;
  };
  try {
    await fh.write(line, 0, 'utf8');
    // Walk the sections in step with the merge: every block of the file must be in some input.
    let si = 0;
    let next = sizedSections[0].from;
    const missing = (area: Area, rabn: number) =>
      new MergeError('MERGE_INPUT_INVALID', `${area} RABN ${rabn} of file ${req.file} is in none of the inputs (a full save holds every block)`, req.inputs);
    await runPass(
      sources,
      (r) => {
        const sec = sizedSections[si];
        if (!sec || r.areaCode < areaCode(sec.area) || (r.area === sec.area && r.rabn < next)) return; // before the file's next block
        if (r.area !== sec.area || r.rabn !== next) throw missing(sec.area, next);
        if (++next > sec.to) next = sizedSections[++si]?.from ?? 0;
        if (used + r.image.length > buf.length) return flushBuf().then(() => copy(r.image));
        copy(r.image);
      },
      { reader: req.reader, throttle: req.throttle, signal: req.signal, progress: new PassProgress(ordered.reduce((n, i) => n + i.size, 0), req.onProgress), interrupted: 'unload stopped on request' },
    );
    if (si < sizedSections.length) throw missing(sizedSections[si].area, next);
    await flushBuf();
    const final = header(dataOffset, hash.digest('hex'));
    await fh.write(JSON.stringify(final) + '\n', 0, 'utf8');
    if (req.fsync ?? true) await fh.sync();
    await fh.close();
    await fs.promises.link(partial, req.out).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'EEXIST' ? new SaveFormatError('ALREADY_EXISTS', `${req.out} exists`) : e;
    });
    await fs.promises.unlink(partial);
    return { dsid: plan.output, blocks, bytes: dataOffset + bytes, path: req.out, header: final };
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.unlink(partial).catch(() => undefined);
    throw e;
  } finally {
    fs.rmSync(merged, { force: true });
  }

  function copy(image: Uint8Array): void {
    buf.set(image, used);
    used += image.length;
  }
}

/** Reads the header line of an unload file (for tools and tests). */
export function readUnloadHeader(file: string): UnloadHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(1 << 20);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const nl = head.subarray(0, n).indexOf(0x0a);
    if (nl < 0) throw new MergeError('VALIDATION', `${file} has no header line`);
    const h = JSON.parse(head.toString('utf8', 0, nl)) as UnloadHeader;
    if (h.format !== UNLOAD_FORMAT || h.version !== 1) throw new MergeError('VALIDATION', `${file} is not a ${UNLOAD_FORMAT} version 1 file`);
    return h;
  } finally {
    fs.closeSync(fd);
  }
}
