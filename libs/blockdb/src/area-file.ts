import * as fs from 'node:fs';
import { BlockDbError } from './errors';
import type { Area, AreaGeometry } from '@deltaflow/blocks';

/**
 * One area file: `blocks` fixed-size blocks, RABN 1 at offset 0. Whole blocks are read and
 * written with positional pread/pwrite (fs.readSync/writeSync with a position) so there is no
 * shared file offset; synchronous calls never interleave inside one Node process.
 */
export class AreaFile {
  private constructor(
    readonly area: Area,
    readonly geometry: AreaGeometry,
    private fd: number,
    private readonly syncWrites: boolean,
  ) {}

  /** Creates (or truncates to size) the area file; blocks never written read as zeros. */
  static create(file: string, area: Area, g: AreaGeometry, syncWrites: boolean): AreaFile {
    const fd = fs.openSync(file, 'w+');
    fs.ftruncateSync(fd, g.blockSize * g.blocks);
    fs.fsyncSync(fd);
    return new AreaFile(area, g, fd, syncWrites);
  }

  /** Opens an existing area file; CORRUPT_HEADER when its size disagrees with the geometry. */
  static open(file: string, area: Area, g: AreaGeometry, readOnly: boolean, syncWrites: boolean): AreaFile {
    const fd = fs.openSync(file, readOnly ? 'r' : 'r+');
    const size = fs.fstatSync(fd).size;
    if (size !== g.blockSize * g.blocks) {
      fs.closeSync(fd);
      throw new BlockDbError('CORRUPT_HEADER', `${area} file is ${size} bytes, header says ${g.blocks} x ${g.blockSize}`);
    }
    return new AreaFile(area, g, fd, syncWrites);
  }

  private checkRange(rabn: number, count: number): void {
    if (this.fd < 0) throw new BlockDbError('CLOSED', `${this.area} area is closed`);
    if (!Number.isInteger(rabn) || rabn < 1 || rabn > this.geometry.blocks)
      throw new BlockDbError('RABN_OUT_OF_RANGE', `${this.area} RABN ${rabn} not in 1..${this.geometry.blocks}`);
    if (rabn + count - 1 > this.geometry.blocks)
      throw new BlockDbError('RABN_OUT_OF_RANGE', `${this.area} RABNs ${rabn}..${rabn + count - 1} exceed ${this.geometry.blocks}`);
  }

  /** Reads `into.length / blockSize` whole blocks starting at `rabn` into `into`. */
  read(rabn: number, into: Uint8Array): Uint8Array {
    const bs = this.geometry.blockSize;
    if (into.length === 0 || into.length % bs !== 0)
      throw new BlockDbError('IMAGE_LENGTH', `${this.area} read of ${into.length} bytes is not whole ${bs}-byte blocks`);
    this.checkRange(rabn, into.length / bs);
    let done = 0;
    while (done < into.length) {
      const n = fs.readSync(this.fd, into, done, into.length - done, (rabn - 1) * bs + done);
      if (n === 0) throw new BlockDbError('CORRUPT_HEADER', `${this.area} file shorter than its header says`);
      done += n;
    }
    return into;
  }

  /** Every block zero again, as after create(): the file is cut to nothing and extended (sparse, no writes). */
  format(): void {
    this.checkRange(1, 1);
    fs.ftruncateSync(this.fd, 0);
    fs.ftruncateSync(this.fd, this.geometry.blockSize * this.geometry.blocks);
  }

  /** Writes whole blocks (a multiple of blockSize bytes) starting at `rabn`. */
  write(rabn: number, image: Uint8Array): void {
    const bs = this.geometry.blockSize;
    if (image.length === 0 || image.length % bs !== 0)
      throw new BlockDbError('IMAGE_LENGTH', `${this.area} image of ${image.length} bytes, block size is ${bs}`);
    this.checkRange(rabn, image.length / bs);
    let done = 0;
    while (done < image.length) done += fs.writeSync(this.fd, image, done, image.length - done, (rabn - 1) * bs + done);
    if (this.syncWrites) fs.fdatasyncSync(this.fd);
  }

  /**
   * Like write(), without blocking the event loop: the pwrite runs on libuv's thread pool. Do not
   * change `image` until the promise settles. Writes to different RABNs may be in flight together.
   */
  async writeAsync(rabn: number, image: Uint8Array): Promise<void> {
    const bs = this.geometry.blockSize;
    if (image.length === 0 || image.length % bs !== 0)
      throw new BlockDbError('IMAGE_LENGTH', `${this.area} image of ${image.length} bytes, block size is ${bs}`);
    this.checkRange(rabn, image.length / bs);
    const fd = this.fd;
    let done = 0;
    while (done < image.length) {
      done += await new Promise<number>((resolve, reject) =>
        fs.write(fd, image, done, image.length - done, (rabn - 1) * bs + done, (e, n) => (e ? reject(e) : resolve(n))),
      );
    }
    if (this.syncWrites) await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  }

  /** Flushes written data to stable storage without blocking the event loop (fdatasync on the thread pool). */
  flushAsync(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.fd < 0;
  }

  /** Flushes written blocks to stable storage. */
  flush(): void {
    if (this.fd >= 0) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
