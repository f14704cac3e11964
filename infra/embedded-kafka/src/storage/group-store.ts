import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { EmbeddedKafkaError } from '../errors';
import type { SegmentLogger } from './segment';

/**
 * Durable consumer-group state: committed offsets and each group's last generation and
 * protocol. An append-only journal `<dataDir>/groups/journal.log`, one record per line, each
 * record checking itself:
 *
 *   <byte length of json, 8 hex digits> <crc32c of json, 8 hex digits> <json>\n
 *
 * JSON never contains a raw newline, so a line end is also a resynchronisation point. Replay at
 * start: a damaged record (bad length, CRC or JSON) is skipped and logged, and replay resumes at
 * the next intact record (found by its length, else after the next newline); only when no
 * intact record follows is the damage a torn tail, which is cut. After skipping damage the
 * journal is rewritten as a snapshot (a copy of the damaged file is kept as
 * `journal.log.damaged`). Journals of the earlier `<crc> <json>` layout are read and rewritten.
 * When the journal grows past a threshold it is rewritten as a snapshot (write temp, fsync, rename).
 */
export type GroupRecord =
  /** ts: commit time (ms); absent in journals written before offsets retention existed. */
  | { t: 'offset'; g: string; topic: string; p: number; o: number; m: string | null; ts?: number }
  /** ts: time of the rebalance (or of the group becoming Empty) this records. */
  | { t: 'meta'; g: string; gen: number; protocolType: string; protocol: string; ts?: number }
  | { t: 'delete-group'; g: string }
  | { t: 'delete-topic'; topic: string };

export interface CommittedOffset {
  readonly offset: number;
  readonly metadata: string | null;
  /** Commit time, ms since the epoch. */
  readonly ts: number;
}

export interface StoredGroup {
  generation: number;
  protocolType: string;
  protocol: string;
  /** Time of the last rebalance or of becoming Empty (meta record), ms since the epoch. */
  metaTs: number;
  /** topic -> partition -> committed offset */
  offsets: Map<string, Map<number, CommittedOffset>>;
}

export class GroupStore {
  readonly groups = new Map<string, StoredGroup>();
  private fd = -1;
  private readonly file: string;
  private size = 0;
  private records = 0;
  private dirty = false;
  private loadedAt = 0;

  constructor(
    dataDir: string,
    private readonly log: SegmentLogger,
    private readonly compactAfterRecords = 100_000,
  ) {
    this.file = path.join(dataDir, 'groups', 'journal.log');
  }

  /**
   * Replays the journal. Records written before timestamps existed count as written at
   * `nowMs`, so their groups get one full retention period from the upgrade.
   */
  open(nowMs = Date.now()): void {
    this.loadedAt = nowMs;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const data = fs.existsSync(this.file) ? fs.readFileSync(this.file) : Buffer.alloc(0);
    const replay = replayJournal(data);
    for (const rec of replay.records) this.apply(rec);
    this.records = replay.records.length;
    for (const d of replay.damaged) {
      this.log('warn', `group journal: skipped ${d.bytes} damaged bytes at ${d.at} (${d.why}); later records kept`);
    }
    this.fd = fs.openSync(this.file, fs.existsSync(this.file) ? 'r+' : 'w+');
    if (replay.end < data.length) {
      this.log('warn', `group journal: dropping ${data.length - replay.end} bytes of torn tail at ${replay.end}`);
      fs.ftruncateSync(this.fd, replay.end);
      fs.fsyncSync(this.fd);
    }
    this.size = replay.end;
    if (replay.damaged.length > 0) {
      fs.copyFileSync(this.file, `${this.file}.damaged`);
      this.compact();
    } else if (replay.legacy > 0 || this.records > this.compactAfterRecords) {
      this.compact();
    }
  }

  /** The last time anything happened to a stored group: a commit, a rebalance, becoming Empty. */
  static lastActivity(s: StoredGroup): number {
    let t = s.metaTs;
    for (const ps of s.offsets.values()) for (const c of ps.values()) if (c.ts > t) t = c.ts;
    return t;
  }

  group(g: string): StoredGroup | undefined {
    return this.groups.get(g);
  }

  /** Appends records (written to the OS at once; call sync() for durability). */
  append(recs: readonly GroupRecord[]): void {
    if (recs.length === 0) return;
    const buf = Buffer.from(recs.map(formatLine).join(''));
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off, this.size + off);
    this.size += buf.length;
    for (const r of recs) this.apply(r);
    this.records += recs.length;
    this.dirty = true;
    if (this.records > this.compactAfterRecords && this.records > 2 * this.liveRecords()) this.compact();
  }

  syncAsync(): Promise<void> {
    if (!this.dirty) return Promise.resolve();
    this.dirty = false;
    const fd = this.fd;
    return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  }

  private liveRecords(): number {
    let n = 0;
    for (const g of this.groups.values()) {
      n++;
      for (const ps of g.offsets.values()) n += ps.size;
    }
    return n;
  }

  private snapshot(): GroupRecord[] {
    const out: GroupRecord[] = [];
    for (const [g, s] of this.groups) {
      out.push({ t: 'meta', g, gen: s.generation, protocolType: s.protocolType, protocol: s.protocol, ts: s.metaTs });
      for (const [topic, ps] of s.offsets) for (const [p, c] of ps) out.push({ t: 'offset', g, topic, p, o: c.offset, m: c.metadata, ts: c.ts });
    }
    return out;
  }

  /** Rewrites the journal as a snapshot of the live state. */
  compact(): void {
    const recs = this.snapshot();
    const tmp = `${this.file}.tmp`;
    const buf = Buffer.from(recs.map(formatLine).join(''));
    fs.writeFileSync(tmp, buf);
    const tfd = fs.openSync(tmp, 'r+');
    fs.fsyncSync(tfd);
    fs.closeSync(tfd);
    fs.renameSync(tmp, this.file);
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = fs.openSync(this.file, 'r+');
    this.size = buf.length;
    this.records = recs.length;
  }

  private ensure(g: string): StoredGroup {
    let s = this.groups.get(g);
    if (!s) {
      s = { generation: 0, protocolType: '', protocol: '', metaTs: 0, offsets: new Map() };
      this.groups.set(g, s);
    }
    return s;
  }

  private apply(r: GroupRecord): void {
    switch (r.t) {
      case 'offset': {
        const s = this.ensure(r.g);
        let ps = s.offsets.get(r.topic);
        if (!ps) s.offsets.set(r.topic, (ps = new Map()));
        ps.set(r.p, { offset: r.o, metadata: r.m, ts: r.ts ?? this.loadedAt });
        return;
      }
      case 'meta': {
        const s = this.ensure(r.g);
        s.generation = r.gen;
        s.protocolType = r.protocolType;
        s.protocol = r.protocol;
        s.metaTs = r.ts ?? this.loadedAt;
        return;
      }
      case 'delete-group':
        this.groups.delete(r.g);
        return;
      case 'delete-topic':
        for (const s of this.groups.values()) s.offsets.delete(r.topic);
        return;
      default: {
        const never: never = r;
        throw new EmbeddedKafkaError('CORRUPT_DATA', `unknown group record ${JSON.stringify(never)}`);
      }
    }
  }

  close(): void {
    if (this.fd >= 0) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

const RECORD_TYPES = new Set<string>(['offset', 'meta', 'delete-group', 'delete-topic'] satisfies GroupRecord['t'][]);
const HEAD = 18; // "LLLLLLLL CCCCCCCC "
const HEX8 = /^[0-9a-f]{8}$/;

function formatLine(r: GroupRecord): string {
  const json = Buffer.from(JSON.stringify(r));
  return `${hex8(json.length)} ${hex8(crc32c(json))} ${json.toString('utf8')}\n`;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

interface Replay {
  readonly records: GroupRecord[];
  /** Damaged stretches skipped with intact records after them. */
  readonly damaged: { at: number; bytes: number; why: string }[];
  /** End of the last intact record: anything after it is a torn tail. */
  readonly end: number;
  /** Records found in the earlier `<crc> <json>` layout. */
  readonly legacy: number;
}

type Parsed = { ok: true; rec: GroupRecord; next: number; legacy: boolean } | { ok: false; why: string; lengthEnd: number | null };

/** Replays a journal, skipping damaged records (see the class comment). */
export function replayJournal(data: Buffer): Replay {
  const records: GroupRecord[] = [];
  const damaged: { at: number; bytes: number; why: string }[] = [];
  let legacy = 0;
  let pos = 0;
  let end = 0;
  while (pos < data.length) {
    const r = parseAt(data, pos);
    if (r.ok) {
      records.push(r.rec);
      if (r.legacy) legacy++;
      pos = end = r.next;
      continue;
    }
    // Resynchronise: where the length says the record ends, else after each following newline.
    let resume = -1;
    if (r.lengthEnd !== null && r.lengthEnd < data.length && parseAt(data, r.lengthEnd).ok) resume = r.lengthEnd;
    for (let nl = data.indexOf(0x0a, pos); resume < 0 && nl >= 0 && nl + 1 < data.length; nl = data.indexOf(0x0a, nl + 1)) {
      if (parseAt(data, nl + 1).ok) resume = nl + 1;
    }
    if (resume < 0) break; // nothing intact follows: a torn tail
    damaged.push({ at: pos, bytes: resume - pos, why: r.why });
    pos = resume;
  }
  return { records, damaged, end, legacy };
}

function parseAt(data: Buffer, pos: number): Parsed {
  const nl = data.indexOf(0x0a, pos);
  if (data.length - pos >= 10 && data[pos + 8] === 0x20 && data[pos + 9] === 0x7b /* { */) {
    // earlier layout: <crc> <json>\n
    if (nl < 0) return { ok: false, why: 'unterminated record', lengthEnd: null };
    const crc = data.toString('latin1', pos, pos + 8);
    const json = data.subarray(pos + 9, nl);
    if (!HEX8.test(crc) || Number.parseInt(crc, 16) !== crc32c(json)) return { ok: false, why: 'CRC mismatch', lengthEnd: null };
    const rec = parseRecord(json);
    return rec ? { ok: true, rec, next: nl + 1, legacy: true } : { ok: false, why: 'not a record', lengthEnd: null };
  }
  if (data.length - pos < HEAD) return { ok: false, why: 'truncated header', lengthEnd: null };
  const lenText = data.toString('latin1', pos, pos + 8);
  const crcText = data.toString('latin1', pos + 9, pos + 17);
  if (!HEX8.test(lenText) || data[pos + 8] !== 0x20 || data[pos + 17] !== 0x20) return { ok: false, why: 'bad header', lengthEnd: null };
  const len = Number.parseInt(lenText, 16);
  const lengthEnd = pos + HEAD + len + 1;
  if (lengthEnd > data.length) return { ok: false, why: 'length beyond the end', lengthEnd: null };
  if (data[lengthEnd - 1] !== 0x0a) return { ok: false, why: 'no newline where the length ends', lengthEnd };
  const json = data.subarray(pos + HEAD, lengthEnd - 1);
  if (!HEX8.test(crcText) || Number.parseInt(crcText, 16) !== crc32c(json)) return { ok: false, why: 'CRC mismatch', lengthEnd };
  const rec = parseRecord(json);
  return rec ? { ok: true, rec, next: lengthEnd, legacy: false } : { ok: false, why: 'not a record', lengthEnd };
}

function parseRecord(json: Buffer): GroupRecord | null {
  try {
    const r = JSON.parse(json.toString('utf8')) as GroupRecord;
    return r && typeof r === 'object' && RECORD_TYPES.has((r as { t?: unknown }).t as string) ? r : null;
  } catch {
    return null;
  }
}
