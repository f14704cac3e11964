import { DataSetDescriptor, DataSetKind, Dsid } from '../dsid';
import { DsidRuleError } from '../errors';

/** Time stamp t<i>: hour i of 2026-11-22 UTC. */
export const t = (i: number): number => Date.UTC(2026, 10, 22, 0, 0, 0) + i * 3_600_000;

export const dsid = (full: number, from: number, to: number, ti: number, lineage = 'A'): Dsid => ({
  full,
  deltaFrom: from,
  deltaTo: to,
  timestamp: t(ti),
  lineage,
});

export const ds = (name: string, kind: DataSetKind, d: Dsid, online = false, dbid = 7): DataSetDescriptor => ({
  name,
  dbid,
  kind,
  dsid: d,
  online,
});

/** Runs `fn`, expecting a DsidRuleError; returns it so the test can look at rule, code and inputs. */
export function ruleError(fn: () => unknown): DsidRuleError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DsidRuleError) return e;
    throw e;
  }
  throw new Error('expected a DsidRuleError, nothing was thrown');
}
