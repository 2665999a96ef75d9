// @ts-check
/**
 * The layering of src/ (docs/architecture.md), and packages/cli kept apart from src/: checked by
 * `npx depcruise --config .dependency-cruiser.mjs src packages/cli` in .ci/run. Type-only imports count like any
 * other (tsPreCompilationDeps), for cycles and for layers alike.
 *
 * Layers, top to bottom; a module imports from its own layer or below, never above. Layers on one row are
 * siblings and do not import each other. test/lint/layers.test.ts plants violations and checks they are caught.
 */
const LAYERS = [
  [['entry', '^src/(server|app)[.]ts$']],
  [['http', '^src/http/']],
  [['service', '^src/service/']],
  [
    ['dicomweb', '^src/dicomweb/'],
    ['dicom-sr', '^src/dicom-sr/'],
  ],
  [
    ['inputs', '^src/inputs/'],
    ['zeroshot', '^src/zeroshot/'],
  ],
  [['models', '^src/models/']],
  [['engine', '^src/engine/']],
  [['workers', '^src/workers/']],
  [
    [
      'base',
      '^src/((config|errors|error-catalogue|metrics|job-metrics|records|vectors|api-types|version|cpu-quota|core-dumps)[.]ts$|config/)',
    ],
  ],
];

const layerPaths = LAYERS.flat().map(([, path]) => path);

/** One rule per layer: `layer-engine` forbids engine -> anything above engine. */
const layerRules = LAYERS.flatMap((row, i) =>
  row.map(([name, path]) => {
    const above = [...LAYERS.slice(0, i).flat(), ...row.filter(([other]) => other !== name)];
    return {
      name: `layer-${name}`,
      severity: /** @type {const} */ ('error'),
      comment: `${name} may import only from its own layer and the layers below it (.dependency-cruiser.mjs, docs/architecture.md)`,
      from: { path },
      to: { path: above.map(([, p]) => p) },
    };
  }),
).filter((rule) => rule.to.path.length > 0);

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'no import cycle in src/, type-only imports included',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'layer-unassigned',
      severity: 'error',
      comment: 'every module in src/ belongs to a layer: add a new directory or top-level file to LAYERS in .dependency-cruiser.mjs',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: layerPaths },
    },
    {
      name: 'layer-unassigned-importer',
      severity: 'error',
      comment: 'every module in src/ belongs to a layer: add a new directory or top-level file to LAYERS in .dependency-cruiser.mjs',
      from: { path: '^src/', pathNot: layerPaths },
      to: {},
    },
    {
      name: 'src-imports-src',
      severity: 'error',
      comment: 'src/ imports packages, Node built-ins and src/ only (not test/, bench/, scripts/, training/)',
      from: { path: '^src/' },
      to: { pathNot: ['^src/', '(^|/)node_modules/'], dependencyTypesNot: ['core'], couldNotResolve: false },
    },
    {
      name: 'cli-imports-no-src',
      severity: 'error',
      comment:
        'packages/cli talks to the service over HTTP only: it imports nothing from src/ (its API types are generated from openapi.yaml)',
      from: { path: '^packages/cli/' },
      to: { path: '^src/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'an import that cannot be resolved would escape every other rule',
      from: { path: '^(src|packages/cli)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports (`import type`, `import { type X }`) are dependencies too.
    tsPreCompilationDeps: true,
    doNotFollow: { path: '(^|/)node_modules/' },
    // The sources import each other with explicit `.ts` extensions (Node type stripping); packages by name.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.node'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
