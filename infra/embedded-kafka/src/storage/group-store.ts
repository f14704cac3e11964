import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { EmbeddedKafkaError } from '../errors';
import type { SegmentLogger } from './segment';

/**
 * Durable consumer-group state: committed offsets and each group's last generation and
 * protocol. An append-only journal `<dataDir>/groups/journal.log`, one record per line:
 *
 *   <crc32c of json, 8 hex digits> <json>\n
 *
 * Replayed at start; a torn or corrupt tail line ends the replay and is truncated. When the
 * journal grows past a threshold it is rewritten as a snapshot (write temp, fsync, rename).
 */
export type GroupRecord =
  | { t: 'offset'; g: string; topic: string; p: number; o: number; m: string | null }
  | { t: 'meta'; g: string; gen: number; protocolType: string; protocol: string }
  | { t: 'delete-group'; g: string }
  | { t: 'delete-topic'; topic: string };

export interface CommittedOffset {
  readonly offset: number;
  readonly metadata: string | null;
}

export interface StoredGroup {
  generation: number;
  protocolType: string;
  protocol: string;
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

  constructor(
    dataDir: string,
    private readonly log: SegmentLogger,
    private readonly compactAfterRecords = 100_000,
  ) {
    this.file = path.join(dataDir, 'groups', 'journal.log');
  }

  open(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const data = fs.existsSync(this.file) ? fs.readFileSync(this.file) : Buffer.alloc(0);
    let pos = 0;
    while (pos < data.length) {
      const nl = data.indexOf(0x0a, pos);
      if (nl < 0) break;
      const line = data.subarray(pos, nl);
      const rec = parseLine(line);
      if (!rec) break;
      this.apply(rec);
      this.records++;
      pos = nl + 1;
    }
    this.fd = fs.openSync(this.file, fs.existsSync(this.file) ? 'r+' : 'w+');
    if (pos < data.length) {
      this.log('warn', `group journal: dropping ${data.length - pos} bytes of torn or corrupt tail`);
      fs.ftruncateSync(this.fd, pos);
      fs.fsyncSync(this.fd);
    }
    this.size = pos;
    if (this.records > this.compactAfterRecords) this.compact();
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
      out.push({ t: 'meta', g, gen: s.generation, protocolType: s.protocolType, protocol: s.protocol });
      for (const [topic, ps] of s.offsets) for (const [p, c] of ps) out.push({ t: 'offset', g, topic, p, o: c.offset, m: c.metadata });
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
      s = { generation: 0, protocolType: '', protocol: '', offsets: new Map() };
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
        ps.set(r.p, { offset: r.o, metadata: r.m });
        return;
      }
      case 'meta': {
        const s = this.ensure(r.g);
        s.generation = r.gen;
        s.protocolType = r.protocolType;
        s.protocol = r.protocol;
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

function formatLine(r: GroupRecord): string {
  const json = JSON.stringify(r);
  return `${crc32c(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`;
}

function parseLine(line: Buffer): GroupRecord | null {
  if (line.length < 10 || line[8] !== 0x20) return null;
  const crc = Number.parseInt(line.toString('latin1', 0, 8), 16);
  const json = line.subarray(9);
  if (crc !== crc32c(json)) return null;
  try {
    return JSON.parse(json.toString('utf8')) as GroupRecord;
  } catch {
    return null;
  }
}
