/**
 * A save to a stream (seed: SUBSYS=SOV, "transparently"): the data set is written as for a
 * directory destination, to a staging file under `<dataDir>/staging/`, then sent to the stream as
 * one client file (the same bytes, cut into 256 KiB superblocks by the service kit's
 * ClientFileWriter) and the staging file removed. The save completes only when the multiplexer
 * reported the client file closed (every run durable on a volume); a client file not closed in
 * time, or refused (an unknown stream), fails the save with that reason.
 *
 * Staged rather than streamed block by block: the data set's header is rewritten at its end
 * (the end LSN of an online save), and a stream client file is append-only. The staging file
 * costs one local write of the save's bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dsid } from '@deltaflow/dsid';
import { safePathIn } from '@deltaflow/core';
import { SovClient, type ClientFileWritten } from '@deltaflow/service-kit';

const CHUNK = 1 << 20;

export class StreamOutput {
  private client?: Promise<SovClient>;

  constructor(
    private readonly o: { brokers: readonly string[]; dataDir: string; timeoutMs: number; log: (m: string) => void },
  ) {}

  /** Where a save's data set is staged before it goes to its stream. */
  stagingFile(correlationId: string): string {
    return safePathIn(path.join(this.o.dataDir, 'staging'), `save-${correlationId.replace(/[^A-Za-z0-9._-]/g, '_')}`, 'staging file');
  }

  /** Sends the staged data set as the client file `name` on `stream`; resolves once it is closed. */
  async send(file: string, to: { stream: string; name: string }, meta: { dbid: number; dsid: Dsid; kind: 'full' | 'delta'; correlationId: string }): Promise<ClientFileWritten> {
    this.client ??= SovClient.connect({ brokers: this.o.brokers, clientId: 'save-writer-sov', log: this.o.log });
    const sov = await this.client;
    const w = await sov.openClientFile({ stream: to.stream, clientFile: to.name, dbid: meta.dbid, dsid: meta.dsid, kind: meta.kind, correlationId: meta.correlationId }, { timeoutMs: this.o.timeoutMs });
    const fh = await fs.promises.open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        // write() keeps what it is given until the superblock is sent: a copy per chunk
        await w.write(Buffer.from(buf.subarray(0, bytesRead)));
      }
      return await w.finish();
    } catch (e) {
      await w.abort((e as Error).message.slice(0, 200)).catch(() => undefined);
      throw e;
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await (await c.catch(() => undefined))?.close();
  }
}
