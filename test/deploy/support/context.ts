/**
 * What `docker build -f infra/docker/Dockerfile .` would see and make, without Docker: the
 * build context (the repository filtered by .dockerignore, as Docker's own matcher does) and
 * the final image's /app tree (the COPY steps of the last stage applied to that context).
 */
import fs from 'node:fs';
import path from 'node:path';
import ignore from '@balena/dockerignore';
import type { ParsedDockerfile } from './dockerfile';

export const ROOT = path.resolve(__dirname, '..', '..', '..');

export function read(rel: string): string {
  return fs.readFileSync(path.join(ROOT, rel), 'utf8');
}

/** The files of the build context under `root` (relative, '/'-separated), after `dockerignore`. */
export function buildContext(root: string, dockerignore: string): { files: Set<string>; ignoredDirs: string[] } {
  const ig = ignore().add(dockerignore);
  // without exceptions (!pattern) nothing below an ignored directory can come back: skip it
  const prune = !dockerignore.split('\n').some((l) => l.trim().startsWith('!'));
  const files = new Set<string>();
  const ignoredDirs: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (ig.ignores(p) && prune) {
          ignoredDirs.push(p);
          continue;
        }
        walk(p);
      } else if (!ig.ignores(p)) {
        files.add(p);
      }
    }
  };
  walk('');
  return { files, ignoredDirs };
}

export interface ImageTree {
  /** absolute paths in the image of the files copied from the context */
  files: Set<string>;
  /** destinations filled from other stages (COPY --from) */
  fromStages: string[];
  /** COPY sources that match nothing in the context: `docker build` fails on them */
  missingSources: string[];
}

/** Applies the last stage's COPY steps (relative to its WORKDIR) to the context's files. */
export function imageTree(df: ParsedDockerfile, context: Set<string>): ImageTree {
  const final = df.stages[df.stages.length - 1];
  const tree: ImageTree = { files: new Set(), fromStages: [], missingSources: [] };
  let workdir = '/';
  for (const s of final.steps) {
    if (s.keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, s.words[0]);
    if (s.keyword !== 'COPY' && s.keyword !== 'ADD') continue;
    const dest = s.words[s.words.length - 1];
    const destAbs = path.posix.resolve(workdir, dest);
    if (s.flags.from) {
      tree.fromStages.push(destAbs);
      continue;
    }
    const sources = s.words.slice(0, -1);
    const intoDir = dest.endsWith('/') || sources.length > 1;
    for (const src of sources) {
      const n = path.posix.normalize(src).replace(/\/$/, '');
      const norm = n === '.' ? '' : n.replace(/^\.\//, '');
      let matched = 0;
      for (const f of context) {
        if (norm === '' || f.startsWith(`${norm}/`)) {
          // a directory: its contents go under dest
          tree.files.add(path.posix.join(destAbs, norm === '' ? f : f.slice(norm.length + 1)));
          matched++;
        } else if (f === norm) {
          tree.files.add(intoDir ? path.posix.join(destAbs, path.posix.basename(f)) : destAbs);
          matched++;
        }
      }
      if (matched === 0) tree.missingSources.push(`line ${s.line}: ${src}`);
    }
  }
  return tree;
}
