/**
 * The modules a program loads, followed from its entry file through the monorepo's sources:
 * relative imports, @deltaflow/* aliases (tsconfig paths) and packages. Type-only imports
 * are left out (SWC erases them). Used to check that the image holds every file a service
 * loads and that every package it loads is a production dependency.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

export interface Closure {
  /** repository-relative files loaded */
  files: Set<string>;
  /** package names loaded (scoped names whole), with one file that loads each */
  packages: Map<string, string>;
  /** imports that resolve to nothing: "file: specifier" */
  unresolved: string[];
}

function specifiersOf(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, file.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.importClause?.isTypeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      if (!node.isTypeOnly) out.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      const isResolve = ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'require' && callee.name.text === 'resolve';
      if (isRequire || isResolve || callee.kind === ts.SyntaxKind.ImportKeyword) out.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const builtins = new Set(builtinModules);

export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Follows every import from `entries` (repository-relative) within `root`. */
export function importClosure(root: string, entries: string[], aliases: Record<string, string>): Closure {
  const closure: Closure = { files: new Set(), packages: new Map(), unresolved: [] };
  const tryFile = (abs: string): string | undefined => {
    for (const cand of [abs, `${abs}.ts`, `${abs}.js`, `${abs}.json`, path.join(abs, 'index.ts'), path.join(abs, 'index.js')]) {
      if (fs.existsSync(cand) && fs.statSync(cand).isFile()) return cand;
    }
    return undefined;
  };
  const queue = [...entries];
  while (queue.length > 0) {
    const rel = queue.shift() as string;
    if (closure.files.has(rel)) continue;
    closure.files.add(rel);
    if (rel.endsWith('.json')) continue;
    const abs = path.join(root, rel);
    for (const spec of specifiersOf(rel, fs.readFileSync(abs, 'utf8'))) {
      let target: string | undefined;
      if (spec.startsWith('.') || spec.startsWith('/')) {
        target = tryFile(path.resolve(path.dirname(abs), spec));
      } else if (aliases[spec]) {
        target = tryFile(path.join(root, aliases[spec]));
      } else if (spec.startsWith('node:') || builtins.has(spec) || builtins.has(spec.split('/')[0])) {
        continue;
      } else {
        const name = packageName(spec);
        if (!closure.packages.has(name)) closure.packages.set(name, rel);
        continue;
      }
      if (!target) closure.unresolved.push(`${rel}: ${spec}`);
      else queue.push(path.relative(root, target).split(path.sep).join('/'));
    }
  }
  return closure;
}
