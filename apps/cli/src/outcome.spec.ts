import { registry } from '@deltaflow/contracts';
import { formatDsid } from '@deltaflow/dsid';
import { dsid } from '@deltaflow/dsid/testing';
import { noOutcome, outcomeOf, progressOf, type DsfEvent } from './outcome';

const at = 1_790_000_000_000;
const D = dsid(1, 1, 2, 3);
const DS = formatDsid(D);
const digest = 'ab'.repeat(16);
/** an event as it would be decoded (validated by its contract) */
const ev = <E extends DsfEvent>(e: E): E => registry.get(e.type)!.validate(e) as E;

describe('outcomes: text and JSON', () => {
  it('SaveCompleted / SaveFailed', () => {
    const done = outcomeOf(
      ev({ type: 'SaveCompleted', correlationId: 'c1', dbid: 1, dsid: D, kind: 'delta', online: true, startLsn: 5, endLsn: 9, location: { kind: 'directory', name: 'd1' }, blocks: 3, bytes: 12288, digest, occurredAt: at }),
      'SaveRequested',
    );
    expect(done).toEqual({
      exitCode: 0,
      lines: [`save completed: DSID ${DS}, 3 blocks, 12288 bytes in d1, end sync LSN 9`],
      json: { ok: true, command: 'save', correlationId: 'c1', event: 'SaveCompleted', dbid: 1, dsid: DS, kind: 'delta', online: true, startLsn: 5, endLsn: 9, location: { kind: 'directory', name: 'd1' }, blocks: 3, bytes: 12288, digest },
    });
    expect(DS).toMatch(/^1\/1-2\//);
    const failed = outcomeOf(ev({ type: 'SaveFailed', correlationId: 'c1', dbid: 1, code: 'DSIM_IN_USE', reason: 'the DSIM of 1/0 is in use', occurredAt: at }), 'SaveRequested');
    expect(failed).toEqual({
      exitCode: 1,
      lines: ['save failed: DSIM_IN_USE: the DSIM of 1/0 is in use'],
      json: { ok: false, command: 'save', correlationId: 'c1', event: 'SaveFailed', dbid: 1, code: 'DSIM_IN_USE', reason: 'the DSIM of 1/0 is in use' },
    });
  });

  it('CommandRejected names the rule, the input and the code', () => {
    const o = outcomeOf(
      ev({ type: 'CommandRejected', correlationId: 'm1', dbid: 1, commandType: 'MergeRequested', code: 'MERGE_INPUT_INVALID', rule: 'CONTINUOUS_SEQUENCE', input: 'd3', reason: 'delta 3 does not follow delta 1', occurredAt: at }),
      'MergeRequested',
    );
    expect(o).toEqual({
      exitCode: 1,
      lines: ['merge rejected: CONTINUOUS_SEQUENCE: delta 3 does not follow delta 1 (input d3, code MERGE_INPUT_INVALID)'],
      json: { ok: false, command: 'merge', correlationId: 'm1', event: 'CommandRejected', dbid: 1, code: 'MERGE_INPUT_INVALID', rule: 'CONTINUOUS_SEQUENCE', reason: 'delta 3 does not follow delta 1', input: 'd3' },
    });
    const plain = outcomeOf(ev({ type: 'CommandRejected', correlationId: 'u1', dbid: 1, commandType: 'DsimUnloadRequested', code: 'DSIM_FREE', reason: 'no DSIM', occurredAt: at }), 'DsimUnloadRequested');
    expect(plain?.lines).toEqual(['dsim unload rejected: DSIM_FREE: no DSIM']);
    expect(plain?.json).toMatchObject({ ok: false, code: 'DSIM_FREE', rule: null });
  });

  it('CommandFailed', () => {
    const o = outcomeOf(ev({ type: 'CommandFailed', correlationId: 'r1', dbid: 1, commandType: 'RestoreRequested', code: 'CORRUPT_INPUT', reason: 'CRC mismatch in d2', occurredAt: at }), 'RestoreRequested');
    expect(o).toMatchObject({ exitCode: 1, lines: ['restore failed: CORRUPT_INPUT: CRC mismatch in d2'], json: { ok: false, command: 'restore', code: 'CORRUPT_INPUT' } });
  });

  it('MergeCompleted, with the DSIM it released', () => {
    const o = outcomeOf(
      ev({
        type: 'MergeCompleted',
        correlationId: 'm2',
        dbid: 1,
        dsid: D,
        kind: 'delta',
        inputs: ['d1', 'd2', '@dsim'],
        location: { kind: 'directory', name: 'cons' },
        blocks: 40,
        bytes: 163840,
        digest,
        releasedDsid: dsid(1, 2, 2, 3),
        occurredAt: at,
      }),
      'MergeRequested',
    );
    expect(o?.exitCode).toBe(0);
    expect(o?.lines[0]).toBe(`merge completed: DSID ${DS} (delta), 40 blocks, 163840 bytes in cons`);
    expect(o?.lines[1]).toMatch(/the original DSIM of 1\/2\/.* was merged and is free/);
    expect(o?.json).toEqual({
      ok: true,
      command: 'merge',
      correlationId: 'm2',
      event: 'MergeCompleted',
      dbid: 1,
      dsid: DS,
      kind: 'delta',
      inputs: ['d1', 'd2', '@dsim'],
      location: { kind: 'directory', name: 'cons' },
      blocks: 40,
      bytes: 163840,
      digest,
      releasedDsid: formatDsid(dsid(1, 2, 2, 3)),
    });
  });

  it('RestoreCompleted: the database digest; a shadow apply is named as such', () => {
    const restored = outcomeOf(
      ev({ type: 'RestoreCompleted', correlationId: 'r2', dbid: 1, target: 'r', dsid: D, blocks: 800, digest, lineage: 'A.1', intoDatabase: true, ranges: [{ area: 'DATA', from: 1, to: 9 }], occurredAt: at }),
      'RestoreRequested',
    );
    expect(restored).toEqual({
      exitCode: 0,
      lines: [`restore completed: DSID ${DS} into database 1: 800 blocks, digest ${digest}; the database continues on lineage A.1`],
      json: { ok: true, command: 'restore', correlationId: 'r2', event: 'RestoreCompleted', dbid: 1, target: 'r', dsid: DS, shadow: false, blocks: 800, digest, lineage: 'A.1', intoDatabase: true, ranges: 1 },
    });
    const applied = outcomeOf(ev({ type: 'RestoreCompleted', correlationId: 's1', dbid: 1, target: 'sh', dsid: D, shadow: true, blocks: 12, digest, occurredAt: at }), 'ShadowApplyRequested');
    expect(applied?.lines).toEqual([`shadow sh at DSID ${DS}: 12 blocks, digest ${digest}`]);
    expect(applied?.json).toMatchObject({ command: 'shadow apply', shadow: true, digest });
  });

  it('RestoreInterrupted says how to resume', () => {
    const o = outcomeOf(ev({ type: 'RestoreInterrupted', correlationId: 'r3', dbid: 1, target: 'r', code: 'IO_ERROR', reason: 'disk full', resumeFrom: 1, occurredAt: at }), 'RestoreRequested');
    expect(o).toEqual({
      exitCode: 1,
      lines: ['restore interrupted: IO_ERROR: disk full', '  the same command with --resume (and without the full save) continues it from input #2'],
      json: { ok: false, command: 'restore', correlationId: 'r3', event: 'RestoreInterrupted', dbid: 1, target: 'r', code: 'IO_ERROR', reason: 'disk full', resumeFrom: 1 },
    });
  });

  it('ShadowRegenerated, FileUnloaded, DsimUnloaded, DsimReset, DsimSnapshotted', () => {
    expect(outcomeOf(ev({ type: 'ShadowRegenerated', correlationId: 'g', dbid: 1, shadow: 'sh', fromLsn: 10, toLsn: 20, blocks: 4, digest, occurredAt: at }), 'ShadowRegenerateRequested')).toEqual({
      exitCode: 0,
      lines: [`shadow sh regenerated: LSN 10..20, 4 blocks, digest ${digest}`],
      json: { ok: true, command: 'shadow regenerate', correlationId: 'g', event: 'ShadowRegenerated', dbid: 1, shadow: 'sh', fromLsn: 10, toLsn: 20, blocks: 4, digest },
    });
    expect(
      outcomeOf(ev({ type: 'FileUnloaded', correlationId: 'f', dbid: 1, file: 12, dsid: D, location: { kind: 'directory', name: 'f12' }, blocks: 5, bytes: 20480, occurredAt: at }), 'FileUnloadRequested')?.json,
    ).toEqual({ ok: true, command: 'unload', correlationId: 'f', event: 'FileUnloaded', dbid: 1, file: 12, dsid: DS, location: { kind: 'directory', name: 'f12' }, blocks: 5, bytes: 20480 });
    expect(outcomeOf(ev({ type: 'DsimUnloaded', correlationId: 'u', dbid: 1, dsid: D, location: { kind: 'directory', name: 'u' }, blocks: 2, digest, occurredAt: at }), 'DsimUnloadRequested')?.lines).toEqual([
      `DSIM of ${DS} unloaded: 2 blocks in u`,
    ]);
    expect(outcomeOf(ev({ type: 'DsimReset', correlationId: 'x', dbid: 1, occurredAt: at }), 'DsimResetRequested')).toMatchObject({ lines: ['DSIM reset (it was free)'], json: { ok: true, dsid: null } });
    expect(outcomeOf(ev({ type: 'DsimSnapshotted', correlationId: 's', dbid: 1, dsid: D, location: { kind: 'directory', name: 'sn' }, blocks: 2, digest, occurredAt: at }), 'DsimSnapshotRequested')?.json).toMatchObject({
      ok: true,
      command: 'dsim snapshot',
      dsid: DS,
    });
  });

  it('events on the way are progress, not outcomes', () => {
    const started = ev({ type: 'SaveStarted', correlationId: 'c', dbid: 1, dsid: D, kind: 'full', online: true, startLsn: 4, occurredAt: at });
    expect(outcomeOf(started, 'SaveRequested')).toBeUndefined();
    expect(progressOf(started)).toEqual({ line: `save started: DSID ${DS} at sync LSN 4` });
    expect(progressOf(ev({ type: 'SaveProgress', correlationId: 'c', dbid: 1, blocksWritten: 10, blocksTotal: 40, occurredAt: at }))).toEqual({
      line: '  10/40 blocks written',
      step: { done: 10, total: 40, unit: 'blocks' },
    });
    expect(progressOf(ev({ type: 'OperationProgress', correlationId: 'c', dbid: 1, bytesDone: 2 * 1048576, bytesTotal: 8 * 1048576, occurredAt: at }))).toEqual({
      line: '  2.0 MiB of 8.0 MiB',
      step: { done: 2 * 1048576, total: 8 * 1048576, unit: 'bytes' },
    });
    const dsimCompleted = ev({ type: 'DsimCompleted', correlationId: 'c', dbid: 1, dsid: D, startLsn: 4, endLsn: 9, blocks: 3, occurredAt: at });
    expect(outcomeOf(dsimCompleted, 'SaveRequested')).toBeUndefined();
    expect(progressOf(ev({ type: 'MergeStarted', correlationId: 'm', dbid: 1, dsid: D, kind: 'full', inputs: ['f', 'd1'], occurredAt: at }))?.line).toBe(`merge started: DSID ${DS} (full) from 2 inputs: f d1`);
    expect(progressOf(ev({ type: 'RestoreStarted', correlationId: 'r', dbid: 1, target: 'sh', inputs: ['d2'], shadow: true, resume: true, occurredAt: at }))?.line).toBe('shadow sh started from 1 input (resuming): d2');
  });

  it('no outcome in time: exit 3, naming who should have answered', () => {
    expect(noOutcome({ type: 'FileUnloadRequested', correlationId: 'f', dbid: 1, file: 1, out: 'o', inputs: ['a'] }, 5)).toEqual({
      exitCode: 3,
      lines: ['no outcome within 5 s (is the merge engine running?)'],
      json: { ok: false, command: 'unload', correlationId: 'f', code: 'NO_OUTCOME', error: 'no outcome within 5 s', timeoutSec: 5 },
    });
  });
});
