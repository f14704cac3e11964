import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '@deltaflow/core';
import type { SegmentLogger } from './segment';

/**
 * Producer ids are never handed out twice, across restarts too: `<dataDir>/producer-ids` holds
 * the first id not yet reserved; ids are reserved in blocks, and the new mark is on disk (file
 * fsynced, renamed, directory fsynced) before any id of the block is given out. A start also
 * begins above every producer id found in the logs, so a lost or damaged mark cannot reuse an id
 * that ever produced (Kafka keeps its block reservations in the controller's metadata log).
 */
export class ProducerIdAllocator {
  private nextId: number;
  private reserved: number;
  static readonly BLOCK = 1000;

  constructor(
    private readonly file: string,
    floor: number,
    log: SegmentLogger,
  ) {
    let stored = 0;
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8').trim();
      stored = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(stored)) {
        log('error', `${file} is damaged ('${text.slice(0, 40)}'); producer ids continue above the highest one in the logs (${floor})`);
        stored = 0;
      }
    }
    this.nextId = Math.max(stored, floor, 0);
    this.reserved = this.nextId;
  }

  next(): number {
    if (this.nextId >= this.reserved) {
      const reserved = this.nextId + ProducerIdAllocator.BLOCK;
      const tmp = `${this.file}.tmp`;
      const fd = fs.openSync(tmp, 'w');
      try {
        fs.writeSync(fd, `${reserved}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
      fsyncDir(path.dirname(this.file));
      this.reserved = reserved;
    }
    return this.nextId++;
  }
}
