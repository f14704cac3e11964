import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { GroupStore, type GroupRecord } from './group-store';

const offset = (g: string, o: number, p = 0): GroupRecord => ({ t: 'offset', g, topic: 't', p, o, m: null });

describe('GroupStore journal', () => {
  let dir: string;
  let warnings: string[];
  const log = (_level: string, msg: string) => warnings.push(msg);
  const journal = () => path.join(dir, 'groups', 'journal.log');
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-groups-'));
    warnings = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Writes g0..g9 (offset 100 + i), one record each, and returns each record's byte range. */
  function writeTen(): { start: number; end: number }[] {
    const s = new GroupStore(dir, log);
    s.open();
    const ranges: { start: number; end: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const before = fs.statSync(journal()).size;
      s.append([{ t: 'meta', g: `g${i}`, gen: 1, protocolType: 'consumer', protocol: 'rr' }, offset(`g${i}`, 100 + i)]);
      ranges.push({ start: before, end: fs.statSync(journal()).size });
    }
    s.close();
    return ranges;
  }

  function committed(s: GroupStore): (number | undefined)[] {
    return Array.from({ length: 10 }, (_, i) => s.group(`g${i}`)?.offsets.get('t')?.get(0)?.offset);
  }

  it.each([
    ['a flipped byte in the JSON', (b: Buffer, r: { start: number; end: number }) => (b[r.start + 40] ^= 0x01)],
    ['a damaged length field', (b: Buffer, r: { start: number; end: number }) => (b[r.start + 3] = 0x7a)],
    ['a lost newline between records', (b: Buffer, r: { start: number; end: number }) => (b[r.end - 1] = 0x20)],
    ['zeroed bytes (a lost page)', (b: Buffer, r: { start: number; end: number }) => b.fill(0, r.start + 5, r.end - 5)],
  ])('skips only the damaged record on %s and keeps every later one', (_name, damage) => {
    const ranges = writeTen();
    const bytes = fs.readFileSync(journal());
    damage(bytes, ranges[4]); // g4's two records (meta + offset) are one append
    fs.writeFileSync(journal(), bytes);
    const s = new GroupStore(dir, log);
    s.open();
    const got = committed(s);
    expect(got.slice(0, 4)).toEqual([100, 101, 102, 103]);
    expect(got.slice(5)).toEqual([105, 106, 107, 108, 109]);
    expect(warnings.join('\n')).toMatch(/skipped \d+ damaged bytes at \d+ .*later records kept/);
    expect(fs.existsSync(`${journal()}.damaged`)).toBe(true);
    s.append([offset('g9', 999)]);
    s.close();
    // rewritten clean: the next start reads everything with no warning
    warnings = [];
    const again = new GroupStore(dir, log);
    again.open();
    expect(committed(again).slice(5)).toEqual([105, 106, 107, 108, 999]);
    expect(warnings).toEqual([]);
    again.close();
  });

  it('cuts a torn tail and keeps everything before it', () => {
    writeTen();
    const whole = fs.statSync(journal()).size;
    fs.appendFileSync(journal(), '0000004a 1234abcd {"t":"offset","g":"g1"'); // a write cut short
    const s = new GroupStore(dir, log);
    s.open();
    expect(committed(s)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(warnings.join('\n')).toMatch(/dropping \d+ bytes of torn tail/);
    expect(fs.statSync(journal()).size).toBe(whole);
    s.close();
  });

  it('reads a journal of the earlier <crc> <json> layout and rewrites it', () => {
    const line = (r: GroupRecord) => {
      const json = JSON.stringify(r);
      return `${crc32c(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`;
    };
    fs.mkdirSync(path.dirname(journal()), { recursive: true });
    fs.writeFileSync(journal(), [offset('old', 5), offset('old', 6, 1)].map(line).join(''));
    const s = new GroupStore(dir, log);
    s.open();
    expect([...s.group('old')!.offsets.get('t')!].map(([p, c]) => [p, c.offset, c.metadata])).toEqual([[0, 5, null], [1, 6, null]]);
    s.close();
    expect(fs.readFileSync(journal(), 'utf8')).toMatch(/^[0-9a-f]{8} [0-9a-f]{8} \{/);
  });
});
