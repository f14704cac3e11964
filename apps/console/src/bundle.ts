/**
 * The page's script and stylesheet: apps/console/ui/main.tsx (Preact) bundled by esbuild's
 * prebuilt binary when the console starts, kept in memory; no build step, no CDN, nothing
 * fetched by the browser but from the console itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

export interface PageBundle {
  readonly js: string;
  readonly css: string;
  /** a short digest of both, for the asset URLs (a new bundle is never taken from a cache) */
  readonly version: string;
  readonly builtInMs: number;
}

export const UI_DIR = path.resolve(__dirname, '..', 'ui');

export async function buildPageBundle(uiDir = UI_DIR): Promise<PageBundle> {
  const t0 = Date.now();
  // required here, not at the top: only the console loads esbuild
  const esbuild = require('esbuild') as typeof import('esbuild');
  const r = await esbuild.build({
    entryPoints: [path.join(uiDir, 'main.tsx')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = r.outputFiles[0].text;
  const css = fs.readFileSync(path.join(uiDir, 'console.css'), 'utf8');
  const version = createHash('sha256').update(js).update(css).digest('hex').slice(0, 12);
  return { js, css, version, builtInMs: Date.now() - t0 };
}
