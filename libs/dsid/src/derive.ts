import { Dsid } from './dsid';
import { DsidParseError, DsidRuleError } from './errors';
import { assertValidDsid } from './format';

/**
 * Derives the DSID of a merge output from its input DSIDs (seed: "full save number; delta save
 * number range; last time stamp"): 4/0/t1 + 4/1/t2 + 4/2/t3 → 4/0-2/t3. The lineage is the newest
 * input's branch. A DSIM carries its save's DSID, so passing it too changes nothing. This only
 * derives; validateMerge checks that the combination is legal.
 */
export function deriveMergedDsid(inputs: readonly Dsid[]): Dsid {
  if (inputs.length === 0) throw new DsidRuleError('MERGE_INPUT_INVALID', 'NO_INPUT', [], 'no input DSIDs');
  inputs.forEach((d, i) => {
    try {
      assertValidDsid(d);
    } catch (e) {
      if (e instanceof DsidParseError)
        throw new DsidRuleError('MERGE_INPUT_INVALID', 'DSID_MALFORMED', [`#${i}`], e.message);
      throw e;
    }
  });
  const full = inputs[0].full;
  const other = inputs.findIndex((d) => d.full !== full);
  if (other >= 0)
    throw new DsidRuleError('MERGE_INPUT_INVALID', 'SAME_FULL_NUMBER', ['#0', `#${other}`], 'full save numbers differ');
  let newest = inputs[0];
  for (const d of inputs) if (d.timestamp > newest.timestamp) newest = d;
  return {
    full,
    deltaFrom: Math.min(...inputs.map((d) => d.deltaFrom)),
    deltaTo: Math.max(...inputs.map((d) => d.deltaTo)),
    timestamp: newest.timestamp,
    lineage: newest.lineage,
  };
}
