/**
 * The save writer's checkpoint of dsf.block-changes: how far its log tail read that topic
 * and the nucleus state per database it had folded by then. At start the tail resumes the
 * topic there instead of re-reading every block image ever published (the topic only
 * matters to the save writer for NucleusState and EtSync, and grows with every change).
 * dsf.events and dsf.dlog, which carry the saves' state, are still read from offset 0.
 *
 * The file is written atomically (temp + rename). A missing, unreadable or foreign file
 * means "read from 0": the checkpoint can only save time, never change a decision.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const CHECKPOINTED_TOPIC = 'dsf.block-changes';

export interface NucleusState {
  readonly active: boolean;
  readonly lsn: number;
}

export interface TailCheckpoint {
  /** `${topic}:${partition}` → next offset, for CHECKPOINTED_TOPIC only */
  readonly positions: Map<string, bigint>;
  readonly nucleus: Map<number, NucleusState>;
}

export function checkpointPath(dataDir: string): string {
  return path.join(dataDir, 'save-writer', 'tail-checkpoint.json');
}

/** The checkpoint, or undefined (with the reason logged) when there is none usable. */
export function readCheckpoint(file: string, log: (m: string) => void = () => undefined): TailCheckpoint | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(raw) as { version?: unknown; positions?: unknown; nucleus?: unknown };
    if (j.version !== 1 || typeof j.positions !== 'object' || j.positions === null || !Array.isArray(j.nucleus)) throw new Error('not a version 1 checkpoint');
    const positions = new Map<string, bigint>();
    for (const [k, v] of Object.entries(j.positions as Record<string, unknown>)) {
      if (!k.startsWith(`${CHECKPOINTED_TOPIC}:`) || typeof v !== 'string' || !/^\d{1,19}$/.test(v)) throw new Error(`bad position ${k}`);
      positions.set(k, BigInt(v));
    }
    const nucleus = new Map<number, NucleusState>();
    for (const e of j.nucleus as unknown[]) {
      const [dbid, st] = e as [unknown, { active?: unknown; lsn?: unknown }];
      if (!Number.isInteger(dbid) || typeof st?.active !== 'boolean' || !Number.isSafeInteger(st.lsn)) throw new Error('bad nucleus entry');
      nucleus.set(dbid as number, { active: st.active, lsn: st.lsn as number });
    }
    return { positions, nucleus };
  } catch (err) {
    log(`ignoring the tail checkpoint ${file} (${(err as Error).message}); reading ${CHECKPOINTED_TOPIC} from offset 0`);
    return undefined;
  }
}

export function writeCheckpoint(file: string, cp: TailCheckpoint): void {
  const positions: Record<string, string> = {};
  for (const [k, v] of cp.positions) if (k.startsWith(`${CHECKPOINTED_TOPIC}:`)) positions[k] = v.toString();
  const body = JSON.stringify({ version: 1, positions, nucleus: [...cp.nucleus] });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, body);
  fs.renameSync(tmp, file);
}
