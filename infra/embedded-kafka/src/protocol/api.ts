import type { Reader } from './reader';
import type { Writer } from './writer';

/** One Kafka API: its key, the versions the broker implements, and its pure codec (no I/O). */
export interface ApiCodec<Req, Res> {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  decodeRequest(r: Reader, version: number): Req;
  encodeResponse(w: Writer, version: number, res: Res): void;
}

export const THROTTLE_NONE = 0;
