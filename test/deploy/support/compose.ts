/**
 * docker-compose.yml as Compose reads it: YAML with merge keys (<<), then ${VAR} interpolation
 * from the environment with Compose's forms (${V}, ${V:-d}, ${V-d}, ${V:?msg}, ${V?msg}, $$).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DCLinter } from 'dclint';

export type ComposeFile = {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [k: string]: unknown;
};

export type ComposeService = {
  image?: string;
  build?: { context: string; dockerfile: string };
  restart?: string;
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean; interval?: string; timeout?: string; retries?: number; start_period?: string };
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
  container_name?: string;
  [k: string]: unknown;
};

export function parseCompose(text: string): ComposeFile {
  return YAML.parse(text, { merge: true }) as ComposeFile;
}

/** Every ${...} expression in the file's text. */
export function variablesIn(text: string): Array<{ name: string; op: string; arg: string; raw: string }> {
  const out: Array<{ name: string; op: string; arg: string; raw: string }> = [];
  for (const m of text.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g)) {
    out.push({ name: m[1], op: m[2] ?? '', arg: m[3] ?? '', raw: m[0] });
  }
  return out;
}

/** Compose's interpolation of one string; throws the message of a required variable that is missing. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$\$/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (whole === '$$') return '\u0000';
      const v = env[name as string];
      const unsetOrEmpty = v === undefined || v === '';
      switch (op) {
        case ':-':
          return unsetOrEmpty ? (arg ?? '') : (v as string);
        case '-':
          return v === undefined ? (arg ?? '') : v;
        case ':?':
          if (unsetOrEmpty) throw new Error(`required variable ${name} is missing a value: ${arg}`);
          return v as string;
        case '?':
          if (v === undefined) throw new Error(`required variable ${name} is missing a value: ${arg}`);
          return v;
        default:
          return v ?? '';
      }
    })
    .replace(/\u0000/g, '$');
}

/** The whole file interpolated (values only, as Compose does), then parsed. */
export function resolvedCompose(text: string, env: Record<string, string | undefined>): ComposeFile {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return interpolate(node, env);
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    return node;
  };
  return walk(parseCompose(text)) as ComposeFile;
}

/**
 * dclint (docker-compose-linter): the Compose Specification JSON schema it ships (validated
 * with ajv, all errors) and the rules that matter here as errors. Ordering rules are style.
 * no-build-and-image is off: the Deltaflow services build the image and tag it.
 */
export const DCLINT_RULES = {
  'no-version-field': 2,
  'require-project-name-field': 2,
  'no-duplicate-container-names': 2,
  'no-duplicate-exported-ports': 2,
  'no-unbound-port-interfaces': 2,
  'require-quotes-in-ports': [2, { quoteType: 'double' }],
  'no-quotes-in-volumes': 2,
  'service-image-require-explicit-tag': 2,
  'service-container-name-regex': 2,
  'no-build-and-image': 0,
  'service-keys-order': 0,
  'services-alphabetical-order': 0,
  'top-level-properties-order': 0,
  'service-dependencies-alphabetical-order': 0,
  'service-ports-alphabetical-order': 0,
} as const;

export function lintCompose(file: string): Array<{ rule: string; type: string; line: number; message: string }> {
  const linter = new DCLinter({ rules: DCLINT_RULES as never, quiet: false, debug: false, exclude: [] });
  return linter.lintFiles([file], false).flatMap((r) => r.messages.map((m) => ({ rule: m.rule, type: m.type, line: m.line, message: m.message })));
}

/** The JSON schema dclint validates with (the Compose Specification's compose-spec.json). */
export function composeSchema(): { title: string; $id: string } {
  const dir = path.dirname(require.resolve('dclint/package.json'));
  return JSON.parse(fs.readFileSync(path.join(dir, 'schemas', 'compose.schema.json'), 'utf8'));
}
