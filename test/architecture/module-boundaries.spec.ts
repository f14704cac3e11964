/**
 * The architecture is enforced, not just drawn: ESLint's Nx module-boundary rule must
 * reject a domain library importing Kafka and an app importing another app, and the
 * real source tree must lint clean of boundary violations.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

interface LintResult {
  filePath: string;
  messages: { ruleId: string | null; message: string }[];
}

// ESLint runs as its own process: its flat config is an ES module, which Jest's VM cannot load.
async function lintErrors(files: string[], ruleIds: readonly string[]) {
  let out: string;
  try {
    out = execFileSync(process.execPath, [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', '--no-warn-ignored', ...(files.some((f) => f.includes('/fixtures/lint/')) ? ['--no-ignore'] : []), ...files], {
      cwd: root,
      env: { ...process.env, NX_DAEMON: 'false' },
      maxBuffer: 64 * 1024 * 1024,
    }).toString();
  } catch (e: any) {
    // ESLint exits 1 when it reports errors; its JSON is still on stdout.
    if (!e.stdout || e.stdout.length === 0) throw e;
    out = e.stdout.toString();
  }
  const results = JSON.parse(out) as LintResult[];
  return results.flatMap((r) =>
    r.messages
      .filter((m) => m.ruleId !== null && ruleIds.includes(m.ruleId))
      .map((m) => ({ file: path.relative(root, r.filePath), message: m.message })),
  );
}

const boundaryErrors = (files: string[]) => lintErrors(files, ['@nx/enforce-module-boundaries']);
const ownRules = ['no-restricted-imports', 'no-restricted-syntax'];

describe('module boundaries', () => {
  beforeAll(() => {
    // The rule reads Nx's project graph; compute it once (no daemon).
    execFileSync(process.execPath, [require.resolve('nx/bin/nx'), 'show', 'projects'], {
      cwd: root,
      env: { ...process.env, NX_DAEMON: 'false' },
      stdio: 'ignore',
    });
  }, 120_000);

  it('rejects kafkajs in a domain library', async () => {
    const errors = await boundaryErrors(['libs/blockdb/src/fixtures/lint/forbidden-import.ts']);
    expect(errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('"type:domain" is not allowed to import "kafkajs"') }),
    ]);
  });

  it('rejects one app importing another', async () => {
    const errors = await boundaryErrors(['apps/catalog/src/fixtures/lint/imports-another-app.ts']);
    expect(errors).toEqual([expect.objectContaining({ message: expect.stringContaining('Projects cannot be imported by a relative or absolute path') })]);
  });

  it('finds no boundary violation in the real sources', async () => {
    const errors = await boundaryErrors(['libs/**/src/**/*.ts', 'apps/**/src/**/*.ts', 'infra/**/src/**/*.ts']);
    expect(errors.filter((e) => !e.file.includes('/fixtures/lint/'))).toEqual([]);
  }, 120_000);
});

describe('one home per concept (docs/ARCHITECTURE.md)', () => {
  it('apps do not compute block sets: which blocks a save holds is @deltaflow/dlog\'s', async () => {
    const errors = await lintErrors(['apps/save-writer/src/fixtures/lint/computes-block-set.ts'], ownRules);
    expect(errors).toEqual([expect.objectContaining({ message: expect.stringContaining('apps do not compute block sets') })]);
  });

  it('the DSIM builder sets no DSIM state: the DSIM decider decides', async () => {
    const errors = await lintErrors(['apps/dsim-builder/src/fixtures/lint/sets-dsim-state.ts'], ownRules);
    expect(errors).toEqual([expect.objectContaining({ message: expect.stringContaining('decided by the DSIM decider') })]);
  });

  it('the real apps keep these rules', async () => {
    const errors = await lintErrors(['apps/**/src/**/*.ts'], ownRules);
    expect(errors.filter((e) => !e.file.includes('/fixtures/lint/'))).toEqual([]);
  }, 120_000);
});
