/**
 * Two kafkajs levers the streaming benchmark measures (the bench process only; both belong where
 * Deltaflow configures kafkajs, see the closing note of issue 11):
 *
 * - encoder: kafkajs grows its request encoder with Buffer.alloc (zero-filled) at every doubling,
 *   for each of the nested encoders of a produce request; allocUnsafe is enough (every byte up to
 *   the offset is written before the buffer is read). A patch like infra/launcher/bin/kafkajs-crc.js.
 * - no-delay: kafkajs never calls setNoDelay, so the tail of each produce request waits on Nagle's
 *   algorithm (and the broker's delayed ACK); `socketFactory` in createKafka could set it.
 */
import * as net from 'node:net';

export function installEncoderLever(): void {
  const Encoder = require('kafkajs/src/protocol/encoder');
  if (Encoder.prototype.deltaflowUnsafe) return;
  Encoder.prototype.ensureAvailable = function (this: { offset: number; buf: Buffer }, length: number) {
    if (this.offset + length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    }
  };
  Encoder.prototype.deltaflowUnsafe = true;
}

let noDelay = false;
export function installNoDelayLever(): void {
  if (noDelay) return;
  noDelay = true;
  const connect = net.connect;
  (net as { connect: typeof net.connect }).connect = function (this: unknown, ...args: Parameters<typeof net.connect>) {
    const s = connect.apply(this, args);
    s.setNoDelay(true);
    return s;
  } as typeof net.connect;
}
