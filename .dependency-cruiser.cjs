/**
 * The layering, checked by `npm run lint` (dependency-cruiser): no import cycles; lower
 * layers (config, lib, gate) never import modules, realtime or http; sales never imports
 * purchases or recovery, and nothing imports recovery but the wiring; src never imports
 * tooling or tests. docs/architecture.md ("Layout") says the same in words.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'An import cycle', from: {}, to: { circular: true } },
    {
      name: 'lower-layers-stay-down',
      severity: 'error',
      comment: 'config, lib and gate are below the modules: they must not import them (or realtime, http)',
      from: { path: '^src/(config|lib|gate)/' },
      to: { path: '^src/(modules|realtime|http)/|^src/(deps|api|main|worker-process|worker-thread)\\.ts$' },
    },
    {
      name: 'sales-below-purchases',
      severity: 'error',
      comment: 'purchases may use sales; sales must not use purchases or recovery',
      from: { path: '^src/modules/sales/' },
      to: { path: '^src/modules/(purchases|recovery)/' },
    },
    {
      name: 'recovery-is-injected',
      severity: 'error',
      comment: 'admission gets recovery injected (restoreSale); only the wiring and http import recovery',
      from: { path: '^src/modules/(?!recovery/)' },
      to: { path: '^src/modules/recovery/' },
    },
    {
      name: 'no-tooling-or-tests-in-src',
      severity: 'error',
      comment: 'production code never imports the bench, the load test or test support',
      from: { path: '^(src|workers)/' },
      to: { path: '^(bench|tools|test|scripts)/' },
    },
    {
      name: 'no-dev-dependencies-in-src',
      severity: 'error',
      comment: 'the production build must not need a devDependency',
      from: { path: '^(src|workers)/', pathNot: '\\.test\\.ts$' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};
