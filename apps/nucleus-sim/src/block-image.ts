/**
 * The bytes nucleus-sim writes into a block: dbid, RABN and LSN in the first 16 bytes, then one
 * u32 every 64 bytes derived from one random value (the rest zero). Shared by the simulator and by
 * benchmarks that need the sample database's bytes (test/bench/streaming/restore.ts).
 */
export function blockImage(size: number, dbid: number, rabn: number, lsn: number, value: number): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(dbid, 0);
  buf.writeUInt32LE(rabn, 4);
  buf.writeDoubleLE(lsn, 8);
  const v = value >>> 0;
  for (let o = 16; o + 4 <= buf.length; o += 64) buf.writeUInt32LE((v + o) >>> 0, o);
  return buf;
}
