/**
 * A data set written to a stream (seed: SUBSYS=SOV, "transparently"): the writer (a save, a merge)
 * writes it as for a directory destination, to a staging file under `<dataDir>/staging/`, then
 * sends it to the stream as one client file (the same bytes, cut into 256 KiB superblocks by
 * ClientFileWriter) and removes the staging file. The operation completes only when the
 * multiplexer reported the client file closed (every run durable on a volume); a client file not
 * closed in time, or refused (an unknown stream), fails it with that reason.
 *
 * Staged rather than streamed block by block: a data set's header is rewritten at its end (the
 * end LSN of an online save), and a stream client file is append-only. The staging file costs
 * one local write of the data set's bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dsid } from '@deltaflow/dsid';
import { safePathIn } from '@deltaflow/core';
import type { MessageOfType } from '@deltaflow/contracts';
import { SovClient } from './sov-client';
import type { ClientFileWritten } from './client-file-writer';

const CHUNK = 1 << 20;

export class StreamOutput {
  private client?: Promise<SovClient>;

  constructor(
    private readonly o: { brokers: readonly string[]; clientId: string; dataDir: string; timeoutMs: number; log: (m: string) => void },
  ) {}

  /** Where an operation's data set is staged before it goes to its stream (`what`: save, merge). */
  stagingFile(what: string, correlationId: string): string {
    return safePathIn(path.join(this.o.dataDir, 'staging'), `${what}-${correlationId.replace(/[^A-Za-z0-9._-]/g, '_')}`, 'staging file');
  }

  /** Sends the staged data set as the client file `name` on `stream`; resolves once it is closed. */
  async send(
    file: string,
    to: { stream: string; name: string },
    meta: { dbid: number; dsid: Dsid; kind: NonNullable<MessageOfType<'ClientFileOpen'>['kind']>; correlationId: string },
  ): Promise<ClientFileWritten> {
    this.client ??= SovClient.connect({ brokers: this.o.brokers, clientId: this.o.clientId, log: this.o.log });
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
