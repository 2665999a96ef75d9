// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  // packages/cli/src/api.d.ts: generated from openapi.yaml by openapi-typescript (test/cli/api-types.test.ts).
  { ignores: ['dist/', 'node_modules/', '.tools/', 'coverage/', '.tap/', 'bench/.cache/', 'bench/results/', 'packages/cli/src/api.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', '.dependency-cruiser.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // "No file in src/ over 250 lines": every line counts, blank and comment lines included. Import cycles and
    // the layer order are dependency-cruiser's (.dependency-cruiser.mjs); test/lint/layers.test.ts checks both.
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 250, skipBlankLines: false, skipComments: false }] },
  },
  {
    // The page's browser code (page/, served by src/http/routes/page.ts): plain ES modules without a build
    // step, so no type information; the browser globals it uses are declared here.
    files: ['page/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['page/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'fetch', 'FormData', 'URL', 'Option', 'performance', 'AbortController'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-floating-promises': 'off' },
  },
  // Layout is Prettier's (.prettierrc.json, checked in .ci/run): ESLint's rules that would fight it are off.
  prettier,
);
