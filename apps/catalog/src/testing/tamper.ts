/**
 * Editing a stopped embedded broker's log on disk, as someone with access to its files could:
 * one record's value changed in place (same length, still a valid message) and its batch's CRC
 * made right again, so the broker serves it as if it had always been so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';

/** Replaces `from` by `to` (same byte length) in the first segment of `topic`'s partition that holds it; returns the file changed. */
export function rewriteRecord(dataDir: string, topic: string, partition: number, from: string, to: string): string {
  if (Buffer.byteLength(from) !== Buffer.byteLength(to)) throw new Error('rewriteRecord: same length only');
  const dir = path.join(dataDir, 'topics', topic, String(partition));
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    const file = path.join(dir, name);
    const buf = fs.readFileSync(file);
    const at = buf.indexOf(from);
    if (at < 0) continue;
    buf.write(to, at);
    // the batch holding it: batches back to back, baseOffset i64 | batchLength i32 | ... | crc u32 at 17 over [21, end)
    let pos = 0;
    while (pos < buf.length) {
      const size = buf.readInt32BE(pos + 8) + 12;
      if (at >= pos && at < pos + size) {
        buf.writeUInt32BE(crc32c(buf, 0, pos + 21, pos + size), pos + 17);
        fs.writeFileSync(file, buf);
        return file;
      }
      pos += size;
    }
    throw new Error(`rewriteRecord: no batch holds byte ${at} of ${file}`);
  }
  throw new Error(`rewriteRecord: ${JSON.stringify(from)} is in no segment of ${topic}[${partition}]`);
}
