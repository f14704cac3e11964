/**
 * Writes the contract's JSON Schemas to libs/contracts/schemas (npm run contracts:schemas):
 * index.json, envelope.json and `<topic>/<Type>.v<version>.json` per message, replacing the
 * generated files that are there (a message whose version went up loses its old file: older
 * schemas stay in git history, and index.json says which older versions Deltaflow still reads).
 * `--check` writes nothing and exits 1 when the files on disk differ from what would be written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contractSchemaFiles } from './json-schema';
import { ALL_MESSAGES } from './registry';

export const SCHEMAS_DIR = path.resolve(__dirname, '..', 'schemas');

/** The generated .json files under `dir`, by relative path (what contractSchemaFiles produces). */
export function readSchemaFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith('.json')) out.set(r, fs.readFileSync(path.join(dir, r), 'utf8'));
    }
  };
  walk('');
  return out;
}

/** What differs between the files on disk and the generated ones: paths missing, stale or extra. */
export function schemaDrift(dir = SCHEMAS_DIR): { missing: string[]; stale: string[]; extra: string[] } {
  const want = contractSchemaFiles(ALL_MESSAGES);
  const have = readSchemaFiles(dir);
  return {
    missing: [...want.keys()].filter((p) => !have.has(p)).sort(),
    stale: [...want.keys()].filter((p) => have.has(p) && have.get(p) !== want.get(p)).sort(),
    extra: [...have.keys()].filter((p) => !want.has(p)).sort(),
  };
}

export function writeSchemas(dir = SCHEMAS_DIR): { written: number; removed: string[] } {
  const want = contractSchemaFiles(ALL_MESSAGES);
  const removed: string[] = [];
  for (const p of readSchemaFiles(dir).keys()) {
    if (want.has(p)) continue;
    fs.rmSync(path.join(dir, p));
    removed.push(p);
  }
  for (const [p, text] of want) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), text);
  }
  // folders of topics that no longer have a message
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() && fs.readdirSync(path.join(dir, e.name)).length === 0) fs.rmdirSync(path.join(dir, e.name));
  }
  return { written: want.size, removed };
}

// run as a script (node infra/launcher/bin/run-ts.js libs/contracts/src/write-schemas.ts), not when imported
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === __filename) {
  const rel = path.relative(process.cwd(), SCHEMAS_DIR) || '.';
  if (process.argv.includes('--check')) {
    const d = schemaDrift();
    const problems = [...d.missing.map((p) => `missing ${p}`), ...d.stale.map((p) => `stale   ${p}`), ...d.extra.map((p) => `extra   ${p}`)];
    if (problems.length > 0) {
      console.error(`${rel} is not current (npm run contracts:schemas regenerates it):\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`${rel} is current`);
  } else {
    const { written, removed } = writeSchemas();
    console.log(`wrote ${written} files to ${rel}${removed.length ? `; removed ${removed.join(', ')}` : ''}`);
  }
}
