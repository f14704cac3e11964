// One Jest run over the whole monorepo. Unit tests (*.spec.ts) sit beside the code,
// integration tests (*.int.spec.ts) use the embedded broker and PostgreSQL, end-to-end
// scenarios live under test/. Each TypeScript path alias maps to its library's index.
const { compilerOptions } = require('./tsconfig.base.json');
const fs = require('node:fs');

const swc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swc.$schema;

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias.replace('/', '\\/')}$`] = `<rootDir>/${target}`;
}

module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, sourceMaps: 'inline', swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testMatch: ['<rootDir>/{apps,libs,infra,test}/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/', '/test/bench/'],
  globalSetup: '<rootDir>/infra/testing/global-setup.js',
  globalTeardown: '<rootDir>/infra/testing/global-teardown.js',
  testTimeout: 60000,
  maxWorkers: 2,
};
