import { Dsid } from './dsid';
import { DsidParseError } from './errors';
import { parseLineage } from './lineage';

/*
 * Printed form: `<full>/<delta>[-<delta>]/<ISO-8601 UTC ms>@<lineage>`,
 * e.g. `4/0-2/2026-11-22T10:00:00.000Z@F4TMHX>4:0#1`. A single delta number is printed alone;
 * numbers have no leading zeros, so formatDsid(parseDsid(s)) === s for every accepted s.
 */

const MAX_NUMBER = Number.MAX_SAFE_INTEGER;
/** Largest time stamp whose ISO form still has a 4-digit year (9999-12-31T23:59:59.999Z). */
export const MAX_TIMESTAMP = 253402300799999;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NUM = '(0|[1-9]\\d*)';
const DSID_TEXT = new RegExp(`^${NUM}/${NUM}(?:-${NUM})?/([^@]*)@(.*)$`, 's');
const MAX_TEXT = 4096;

/** Prints a time stamp (ms since the epoch) as ISO-8601 UTC with milliseconds. */
export function formatTimestamp(ms: number): string {
  checkTimestamp(ms);
  return new Date(ms).toISOString();
}

/** Parses an ISO-8601 UTC time stamp in exactly the form formatTimestamp prints. */
export function parseTimestamp(text: string): number {
  if (!ISO.test(text))
    throw new DsidParseError(`time stamp "${text}" must be ISO-8601 UTC like 2026-11-22T10:00:00.000Z`, 'timestamp');
  const ms = Date.parse(text);
  // Date.parse rolls 2026-02-30 over to March; the round trip catches impossible dates.
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== text)
    throw new DsidParseError(`time stamp "${text}" is not a real date and time`, 'timestamp');
  checkTimestamp(ms);
  return ms;
}

function checkTimestamp(ms: number): void {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIMESTAMP)
    throw new DsidParseError(`time stamp ${ms} must be an integer number of ms in [0, ${MAX_TIMESTAMP}]`, 'timestamp');
}

function checkNumber(value: number, field: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > MAX_NUMBER)
    throw new DsidParseError(`${field} ${value} must be an integer ≥ ${min}`, field);
}

/** Checks that a Dsid value is well formed (numbers, range order, time stamp, lineage); throws DsidParseError. */
export function assertValidDsid(d: Dsid): void {
  checkNumber(d.full, 'full', 1);
  checkNumber(d.deltaFrom, 'deltaFrom', 0);
  checkNumber(d.deltaTo, 'deltaTo', 0);
  if (d.deltaFrom > d.deltaTo)
    throw new DsidParseError(`delta range ${d.deltaFrom}-${d.deltaTo} is descending`, 'deltaTo');
  checkTimestamp(d.timestamp);
  if (typeof d.lineage !== 'string') throw new DsidParseError('lineage must be a string', 'lineage');
  parseLineage(d.lineage);
}

/** Parses the printed DSID form; errors name the part that is wrong. */
export function parseDsid(text: string): Dsid {
  if (typeof text !== 'string') throw new DsidParseError('DSID must be a string', 'dsid');
  if (text.length > MAX_TEXT) throw new DsidParseError(`DSID longer than ${MAX_TEXT} characters`, 'dsid');
  const m = DSID_TEXT.exec(text);
  if (!m) {
    if (!text.includes('@')) throw new DsidParseError(`DSID "${text}" has no "@<lineage>"`, 'lineage');
    throw new DsidParseError(
      `DSID "${text}" must be <full>/<delta>[-<delta>]/<timestamp>@<lineage> with numbers without leading zeros`,
      'dsid',
    );
  }
  const full = Number(m[1]);
  const deltaFrom = Number(m[2]);
  const deltaTo = m[3] === undefined ? deltaFrom : Number(m[3]);
  if (m[3] !== undefined && deltaTo === deltaFrom)
    throw new DsidParseError(`delta range ${m[2]}-${m[3]} must be written as a single number`, 'deltaTo');
  const d: Dsid = { full, deltaFrom, deltaTo, timestamp: parseTimestamp(m[4]), lineage: m[5] };
  assertValidDsid(d);
  return d;
}

/** Prints a DSID in the form parseDsid reads. */
export function formatDsid(d: Dsid): string {
  assertValidDsid(d);
  const delta = d.deltaFrom === d.deltaTo ? `${d.deltaFrom}` : `${d.deltaFrom}-${d.deltaTo}`;
  return `${d.full}/${delta}/${formatTimestamp(d.timestamp)}@${d.lineage}`;
}

/** True if two DSIDs are identical in every field. */
export function sameDsid(a: Dsid, b: Dsid): boolean {
  return (
    a.full === b.full &&
    a.deltaFrom === b.deltaFrom &&
    a.deltaTo === b.deltaTo &&
    a.timestamp === b.timestamp &&
    a.lineage === b.lineage
  );
}
