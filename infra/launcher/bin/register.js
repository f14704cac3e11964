// Lets Node run the monorepo's TypeScript sources directly: SWC compiles each .ts file
// on load (with decorator metadata, which NestJS needs) and tsconfig-paths resolves the
// @deltaflow/* aliases to their libraries. Used by `npm start`, `npm run broker`, the CLI
// and every service process.
const path = require('node:path');
const fs = require('node:fs');
const root = path.resolve(__dirname, '..', '..', '..');
const { transformSync } = require('@swc/core');
const tsconfig = require(path.join(root, 'tsconfig.base.json'));
require('tsconfig-paths').register({ baseUrl: root, paths: tsconfig.compilerOptions.paths });

const swc = JSON.parse(fs.readFileSync(path.join(root, '.swcrc'), 'utf8'));
delete swc.$schema;
require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swc, filename, swcrc: false, sourceMaps: 'inline' });
  module._compile(code, filename);
};
process.setSourceMapsEnabled?.(true);
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
require('./kafkajs-crc')(root);
