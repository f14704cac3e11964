/**
 * sov.superblocks, sov.commands, sov.events: the streaming backup side. Key: stream name.
 *
 * Choices where DESIGN is vague:
 * - A client file name is unique within its stream; `seq` numbers its superblocks from 0;
 *   `last` marks the final one. Superblock.crc is the CRC-32C of the payload and is checked
 *   on encode and decode (a mismatch is a VALIDATION error on `crc`).
 * - Rates are whole MB/s (10^6 bytes); volume capacity is in bytes.
 * - A device is named (`device`), unique within its stream.
 * - ClientFileClose/Closed carry the superblock count and byte total so a reader can tell a
 *   complete client file from a truncated one.
 * - SuperblockPlaced.offset is the byte offset of the superblock's header in the volume.
 */
import { crc32c } from '@deltaflow/checksum';
import { dbid, id, name, streamName, text, timestamp, volser } from '../common';
import { defineMessage } from '../define';
import { boolean, bytes, int, optional, posint, uint, uint32 } from '../schema';

export const MAX_SUPERBLOCK_PAYLOAD = 256 * 1024;
const occurredAt = timestamp;
const device = () => name();

export const Superblock = defineMessage({
  type: 'Superblock',
  version: 1,
  topic: 'sov.superblocks',
  fields: {
    stream: streamName(),
    clientFile: name(),
    seq: uint(),
    last: boolean(),
    payload: bytes({ minLength: 0, maxLength: MAX_SUPERBLOCK_PAYLOAD }),
    crc: uint32(),
  },
  check: (m) => {
    const actual = crc32c(Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)) >>> 0;
    return actual === m.crc ? undefined : { field: 'crc', message: `expected CRC-32C of payload 0x${actual.toString(16)}, got 0x${m.crc.toString(16)}` };
  },
});

export const SOV_SUPERBLOCK_MESSAGES = [Superblock] as const;

export const StreamDefine = defineMessage({
  type: 'StreamDefine',
  version: 1,
  topic: 'sov.commands',
  fields: {
    stream: streamName(),
    objectiveMBps: optional(posint(100_000)),
    maxDevices: int({ min: 1, max: 256 }),
    volumeCapacity: int({ min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER }),
    deviceRateMBps: optional(posint(100_000)),
    correlationId: optional(id()),
  },
});

export const DeviceAdd = defineMessage({
  type: 'DeviceAdd',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), device: device(), rateMBps: optional(posint(100_000)), correlationId: optional(id()) },
});

export const DeviceRemove = defineMessage({
  type: 'DeviceRemove',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), device: device(), correlationId: optional(id()) },
});

export const ClientFileOpen = defineMessage({
  type: 'ClientFileOpen',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), clientFile: name(), dbid: optional(dbid()), description: optional(text()), correlationId: optional(id()) },
});

export const ClientFileClose = defineMessage({
  type: 'ClientFileClose',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), clientFile: name(), superblocks: uint(), bytes: uint(), correlationId: optional(id()) },
});

export const SOV_COMMAND_MESSAGES = [StreamDefine, DeviceAdd, DeviceRemove, ClientFileOpen, ClientFileClose] as const;

export const StreamDefined = defineMessage({
  type: 'StreamDefined',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    objectiveMBps: optional(posint(100_000)),
    maxDevices: int({ min: 1, max: 256 }),
    volumeCapacity: int({ min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER }),
    deviceRateMBps: optional(posint(100_000)),
    occurredAt: occurredAt(),
  },
});

export const DeviceAdded = defineMessage({
  type: 'DeviceAdded',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), device: device(), rateMBps: optional(posint(100_000)), occurredAt: occurredAt() },
});

export const DeviceRemoved = defineMessage({
  type: 'DeviceRemoved',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), device: device(), reason: optional(text()), occurredAt: occurredAt() },
});

export const ClientFileOpened = defineMessage({
  type: 'ClientFileOpened',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), clientFile: name(), dbid: optional(dbid()), description: optional(text()), occurredAt: occurredAt() },
});

export const ClientFileClosed = defineMessage({
  type: 'ClientFileClosed',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), clientFile: name(), superblocks: uint(), bytes: uint(), occurredAt: occurredAt() },
});

export const SuperblockPlaced = defineMessage({
  type: 'SuperblockPlaced',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    clientFile: name(),
    seq: uint(),
    volser: volser(),
    offset: uint(),
    length: uint(MAX_SUPERBLOCK_PAYLOAD),
    crc: uint32(),
    occurredAt: occurredAt(),
  },
});

export const VolumeMounted = defineMessage({
  type: 'VolumeMounted',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), volser: volser(), device: device(), streamFile: uint(), volumeSeq: posint(), occurredAt: occurredAt() },
});

export const VolumeFull = defineMessage({
  type: 'VolumeFull',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), volser: volser(), bytes: uint(), occurredAt: occurredAt() },
});

export const VolumeScratched = defineMessage({
  type: 'VolumeScratched',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), volser: volser(), occurredAt: occurredAt() },
});

export const ClientFileExpired = defineMessage({
  type: 'ClientFileExpired',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), clientFile: name(), occurredAt: occurredAt() },
});

export const SOV_EVENT_MESSAGES = [
  StreamDefined,
  DeviceAdded,
  DeviceRemoved,
  ClientFileOpened,
  ClientFileClosed,
  SuperblockPlaced,
  VolumeMounted,
  VolumeFull,
  VolumeScratched,
  ClientFileExpired,
] as const;
