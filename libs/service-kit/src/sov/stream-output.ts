/**
 * A data set written to a stream (seed: SUBSYS=SOV, "transparently"): the same bytes as for a
 * directory destination, cut into 256 KiB superblocks by ClientFileWriter, one client file per data
 * set. The operation completes only when the multiplexer reported the client file closed (every
 * run durable on a volume); a client file not closed in time, or refused (an unknown stream), fails
 * it with that reason.
 *
 * Two ways in: `open` gives the client file as the DataSetWriter's sink, so the bytes go to Kafka
 * as the writer produces them (nothing written locally); `send` sends a data set staged in a file
 * under `<dataDir>/staging/`, for a data set whose header is rewritten at its end (the end LSN of
 * an online save), which an append-only client file cannot take. Staging costs one local write and
 * one read of the data set's bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dsid } from '@deltaflow/dsid';
import { safePathIn } from '@deltaflow/core';
import type { MessageOfType } from '@deltaflow/contracts';
import { SovClient } from './sov-client';
import type { ClientFileWriter, ClientFileWritten } from './client-file-writer';

const CHUNK = 1 << 20;

/** The client file a data set becomes. */
export interface StreamTarget {
  readonly stream: string;
  readonly name: string;
}

/** What the client file's open record says of the data set. */
export interface ClientFileMeta {
  readonly dbid: number;
  readonly dsid: Dsid;
  readonly kind: NonNullable<MessageOfType<'ClientFileOpen'>['kind']>;
  readonly correlationId: string;
}

export class StreamOutput {
  private client?: Promise<SovClient>;

  constructor(
    private readonly o: { brokers: readonly string[]; clientId: string; dataDir: string; timeoutMs: number; log: (m: string) => void },
  ) {}

  /** Where an operation's data set is staged before it goes to its stream (`what`: save, merge). */
  stagingFile(what: string, correlationId: string): string {
    return safePathIn(path.join(this.o.dataDir, 'staging'), `${what}-${correlationId.replace(/[^A-Za-z0-9._-]/g, '_')}`, 'staging file');
  }

  /**
   * Opens the client file `name` on `stream`, to be written as a DataSetWriter's sink: its
   * finish() resolves once the multiplexer closed it, its abort() gives it up.
   */
  async open(to: StreamTarget, meta: ClientFileMeta): Promise<ClientFileWriter> {
    this.client ??= SovClient.connect({ brokers: this.o.brokers, clientId: this.o.clientId, log: this.o.log });
    const sov = await this.client;
    return sov.openClientFile({ stream: to.stream, clientFile: to.name, dbid: meta.dbid, dsid: meta.dsid, kind: meta.kind, correlationId: meta.correlationId }, { timeoutMs: this.o.timeoutMs });
  }

  /** Sends the staged data set as the client file `name` on `stream`; resolves once it is closed. */
  async send(file: string, to: StreamTarget, meta: ClientFileMeta): Promise<ClientFileWritten> {
    const w = await this.open(to, meta);
    const fh = await fs.promises.open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        // write() copies what it keeps into its superblocks before it resolves: the buffer is ours again
        await w.write(buf.subarray(0, bytesRead));
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
