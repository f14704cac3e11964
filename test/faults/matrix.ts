/**
 * The fault matrix: kill -9 of one process at one point of the work, restart it at once (as a
 * supervisor would), and check what must hold:
 *
 * - reported: the interrupted operation ends with an outcome (completed, failed, interrupted and
 *   then resumed) within the timeout: nothing hangs;
 * - whole: every data set under a final name reads to its trailer (CRCs and digest check), and no
 *   `.partial` is left once the work settled;
 * - next delta: a delta save after the fault completes (and its DSIM unloads): the change logger
 *   lost no change and the save chain continues;
 * - restores: at the end, the chain (last full save + every completed delta, with DSIMs) restores
 *   to the digest the nucleus recorded at the last save's end sync.
 *
 * `npm test` runs a matrix that fits (test/e2e/fault-matrix.e2e.spec.ts); the whole matrix, and
 * repetitions, is `node infra/launcher/bin/run-ts.js test/faults/run.ts [--repeat N]`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessageOfType } from '@deltaflow/contracts';
import { PARTIAL_SUFFIX } from '@deltaflow/core';
import { DataSetReader } from '@deltaflow/save-format';
import type { Outcome } from '@deltaflow/testing';
import { FaultRig, RIG_STREAM, SERVICES, type Target } from './rig';

/** Where in the work the kill lands. */
export type Point = 'save-start' | 'save-copy' | 'save-end' | 'stream-save' | 'dsim-unload' | 'merge' | 'restore';
export const POINTS: readonly Point[] = ['save-start', 'save-copy', 'save-end', 'stream-save', 'dsim-unload', 'merge', 'restore'];
export const TARGETS: readonly Target[] = [...SERVICES, 'broker', 'postgres'];

export interface FaultCase {
  readonly target: Target;
  readonly point: Point;
}

export interface CaseResult extends FaultCase {
  /** what the interrupted operation ended with */
  readonly outcome: string;
  readonly held: { reported: boolean; whole: boolean; nextDelta: boolean };
  readonly seconds: number;
  readonly problem?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FaultMatrix {
  /** the chain a restore needs: the last completed full save and the deltas after it, each with its DSIM */
  private chain: string[] = [];
  private lastEnd = '';
  private n = 0;
  readonly results: CaseResult[] = [];

  constructor(
    readonly rig: FaultRig,
    private readonly log: (m: string) => void = () => undefined,
  ) {}

  private get dsf() {
    return this.rig.dsf;
  }

  private name(what: string): string {
    return `f${++this.n}-${what}`;
  }

  /** The chain's first full save (online, with its DSIM). */
  async begin(): Promise<void> {
    const name = this.name('full');
    const o = await this.dsf.save(this.rig.dbid, 'full', name);
    if (o.type !== 'SaveCompleted') throw new Error(`the first full save failed: ${JSON.stringify(o)}`);
    await this.unloadDsim(name);
    this.chain = [name, `${name}.dsim`];
    this.lastEnd = `${name}.end`;
  }

  /** Unloads a completed save's DSIM, asking again until the DSIM builder answers (a fault may be recovering). */
  private async unloadDsim(save: string): Promise<void> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const u = await this.dsf.dsim(this.rig.dbid, 'DsimUnloadRequested', `${save}.dsim`).catch((e: Error) => ({ type: 'timeout', reason: e.message }) as unknown as Outcome);
      if (u.type === 'DsimUnloaded') return;
      // the unload ran before the kill but its answer was lost: the DSIM is gone and the file is whole
      if (u.type === 'CommandRejected' && fs.existsSync(this.dataSet(`${save}.dsim`))) return;
      this.log(`  unload of ${save}.dsim: ${u.type} ${(u as { code?: string }).code ?? ''}; asking again`);
      await sleep(2000);
    }
    throw new Error(`the DSIM of ${save} could not be unloaded`);
  }

  private dataSet(name: string): string {
    return path.join(this.rig.dataDir, 'datasets', name);
  }

  /** Runs one case: the operation, the kill at its point, the restart, then the checks. */
  async run(c: FaultCase): Promise<CaseResult> {
    const t0 = Date.now();
    const events = this.rig.events;
    const seen = (pred: (m: Outcome) => boolean) => events.waitFor<Outcome>((m) => pred(m as Outcome), 240_000);
    let outcome = 'none';
    let problem: string | undefined;
    const held = { reported: false, whole: false, nextDelta: false };
    try {
      const killed = async () => {
        await this.rig.kill9(c.target);
        await this.rig.restart(c.target);
      };
      let completedSave: string | undefined;
      let newChain: string[] | undefined;
      switch (c.point) {
        case 'save-start':
        case 'save-copy':
        case 'save-end':
        case 'stream-save': {
          // a full save to a directory, or to a stream (killed while its superblocks flow to the multiplexer)
          const streamed = c.point === 'stream-save';
          const name = this.name(streamed ? `streamed-${c.target}` : `full-${c.target}-${c.point}`);
          const destination = streamed ? { kind: 'stream' as const, stream: RIG_STREAM, name } : { kind: 'directory' as const, name };
          await this.rig.pub.publish({ type: 'SaveRequested', correlationId: name, dbid: this.rig.dbid, kind: 'full', online: true, destination });
          const at = c.point === 'save-start' ? 'SaveStarted' : c.point === 'save-end' ? 'SaveCompleted' : 'SaveProgress';
          await seen((m) => m.type === at && m.correlationId === name);
          await killed();
          const o = await this.dsf.outcome(name, 240_000);
          outcome = o.type === 'SaveFailed' ? `SaveFailed ${(o as MessageOfType<'SaveFailed'>).code}` : o.type;
          if (o.type === 'SaveCompleted') {
            await this.unloadDsim(name);
            completedSave = name;
            newChain = [streamed ? `stream:${RIG_STREAM}/${name}` : name, `${name}.dsim`];
          }
          break;
        }
        case 'dsim-unload': {
          const name = this.name(`delta-${c.target}-unload`);
          const o = await this.dsf.save(this.rig.dbid, 'delta', name);
          if (o.type !== 'SaveCompleted') throw new Error(`the delta before the unload failed: ${JSON.stringify(o)}`);
          const cid = `DsimUnloadRequested-${name}.dsim-killed`;
          await this.rig.pub.publish({ type: 'DsimUnloadRequested', correlationId: cid, dbid: this.rig.dbid, destination: { kind: 'directory', name: `${name}.dsim` } });
          await killed();
          const u = await this.dsf.outcome(cid, 240_000);
          outcome = u.type === 'CommandRejected' ? `CommandRejected ${(u as MessageOfType<'CommandRejected'>).code}` : u.type;
          if (u.type !== 'DsimUnloaded') await this.unloadDsim(name);
          completedSave = name;
          break;
        }
        case 'merge': {
          const dest = this.name(`merged-${c.target}`);
          const cid = `merge-${dest}`;
          await this.rig.pub.publish({ type: 'MergeRequested', correlationId: cid, dbid: this.rig.dbid, inputs: [...this.chain], output: { kind: 'directory', name: dest } });
          await seen((m) => m.type === 'MergeStarted' && m.correlationId === cid);
          await sleep(300);
          await killed();
          const o = await this.dsf.outcome(cid, 240_000);
          outcome = o.type === 'CommandFailed' ? `CommandFailed ${(o as MessageOfType<'CommandFailed'>).code}` : o.type;
          break;
        }
        case 'restore': {
          const target = this.name(`restored-${c.target}`);
          const cid = `restore-${target}`;
          await this.rig.pub.publish({ type: 'RestoreRequested', correlationId: cid, dbid: this.rig.dbid, inputs: [...this.chain], target });
          await seen((m) => m.type === 'RestoreStarted' && m.correlationId === cid);
          await sleep(300);
          await killed();
          let o = await this.dsf.outcome(cid, 240_000);
          outcome = o.type;
          if (o.type === 'RestoreInterrupted' || o.type === 'CommandFailed') {
            // resubmitted without the full save it continues; if the full save was not restored yet, whole
            o = await this.dsf.restore(this.rig.dbid, target, this.chain.slice(2), { resume: true });
            if (o.type !== 'RestoreCompleted') o = await this.dsf.restore(this.rig.dbid, target, [...this.chain]);
            outcome += ` -> ${o.type}`;
          }
          if (o.type === 'RestoreCompleted' && (o as MessageOfType<'RestoreCompleted'>).digest !== this.rig.nucleus.digestAt(this.lastEnd)?.digest)
            throw new Error(`the restore into ${target} ended with digest ${(o as MessageOfType<'RestoreCompleted'>).digest}, not the nucleus's at ${this.lastEnd}`);
          break;
        }
      }
      held.reported = true;
      if (newChain) {
        this.chain = newChain;
        this.lastEnd = `${completedSave}.end`;
      } else if (completedSave) {
        this.chain.push(completedSave, `${completedSave}.dsim`);
        this.lastEnd = `${completedSave}.end`;
      }
      // the next delta holds every change since the last completed save
      const next = this.name('next-delta');
      const d = await this.dsf.save(this.rig.dbid, 'delta', next);
      if (d.type !== 'SaveCompleted') throw new Error(`the delta after the fault failed: ${JSON.stringify(d)}`);
      await this.unloadDsim(next);
      this.chain.push(next, `${next}.dsim`);
      this.lastEnd = `${next}.end`;
      held.nextDelta = true;
      held.whole = await this.allWhole();
    } catch (e) {
      problem = (e as Error).message;
    }
    const r: CaseResult = { ...c, outcome, held, seconds: Math.round((Date.now() - t0) / 1000), ...(problem ? { problem } : {}) };
    this.results.push(r);
    this.log(`  kill -9 ${c.target} at ${c.point}: ${outcome}; reported ${yes(held.reported)}, whole ${yes(held.whole)}, next delta ${yes(held.nextDelta)} (${r.seconds} s)${problem ? `: ${problem}` : ''}`);
    return r;
  }

  /** Every data set under a final name reads to its trailer; no `.partial` is left. */
  private async allWhole(): Promise<boolean> {
    const dir = path.join(this.rig.dataDir, 'datasets');
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith(PARTIAL_SUFFIX)) throw new Error(`${f} was left behind`);
      const r = await DataSetReader.open(path.join(dir, f));
      try {
        for await (const _b of r) {
          // reading verifies every record's CRC, the trailer and the digest
        }
      } finally {
        await r.close();
      }
    }
    return true;
  }

  /** The chain restores to the nucleus's digest at its last save's end sync. */
  async finalRestore(): Promise<{ ok: boolean; inputs: number; detail: string }> {
    const target = this.name('final');
    const o = await this.dsf.restore(this.rig.dbid, target, [...this.chain]);
    const expected = this.rig.nucleus.digestAt(this.lastEnd)?.digest;
    const got = (o as Partial<MessageOfType<'RestoreCompleted'>>).digest;
    return { ok: o.type === 'RestoreCompleted' && got === expected, inputs: this.chain.length, detail: `${o.type}, digest ${got?.slice(0, 12)}, nucleus at ${this.lastEnd} ${expected?.slice(0, 12)}` };
  }

  table(): string {
    const rows = this.results.map((r) => `  ${r.target.padEnd(18)} ${r.point.padEnd(12)} ${r.outcome.padEnd(42)} ${yes(r.held.reported).padEnd(9)} ${yes(r.held.whole).padEnd(6)} ${yes(r.held.nextDelta).padEnd(11)} ${String(r.seconds).padStart(4)} s${r.problem ? `  ${r.problem}` : ''}`);
    return [`  ${'killed'.padEnd(18)} ${'at'.padEnd(12)} ${'outcome'.padEnd(42)} ${'reported'.padEnd(9)} ${'whole'.padEnd(6)} ${'next delta'.padEnd(11)} time`, ...rows].join('\n');
  }
}

const yes = (b: boolean) => (b ? 'yes' : 'NO');
