/**
 * Module boundaries, checked by `npm run lint:deps` (dependency-cruiser) in .ci/run.
 * The rules encode docs/STYLE.md section 2: `common/` is the bottom layer, `kernel/` holds the
 * types several features share, and no two files or modules depend on each other in a loop.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle means two pieces cannot be understood or tested apart; move the shared part down.',
      from: { path: '^src/' },
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular-types',
      severity: 'error',
      comment:
        'Type-only cycles still tie two folders together; shared types belong in src/kernel.',
      from: { path: '^src/' },
      to: { circular: true, dependencyTypes: ['type-only'] },
    },
    {
      name: 'common-is-the-bottom-layer',
      severity: 'error',
      comment: 'src/common serves every feature, so it may not know about any of them.',
      from: { path: '^src/common/' },
      to: { path: '^src/(modules|kernel)/' },
    },
    {
      name: 'kernel-is-types-and-pure-helpers',
      severity: 'error',
      comment:
        'src/kernel is the shared vocabulary of the features; it depends on nothing but common.',
      from: { path: '^src/kernel/' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'health-does-not-reach-into-proxy-services',
      severity: 'error',
      comment: 'Health only probes upstreams; it may not depend on the proxy request handling.',
      from: { path: '^src/modules/health/' },
      to: { path: '^src/modules/proxy/(?!upstream/)' },
    },
    {
      name: 'proxy-does-not-depend-on-health',
      severity: 'error',
      comment:
        'Health depends on the upstream module for /readyz; the probe contract lives in src/kernel.',
      from: { path: '^src/modules/proxy/' },
      to: { path: '^src/modules/health/' },
    },
    {
      name: 'turn-engine-knows-no-http',
      severity: 'error',
      comment:
        'The turn engine and its store are driven by per-API adapters; HTTP stays in those (STYLE section 14).',
      from: { path: '^src/modules/conversations/turn-(engine|store)\\.ts$' },
      to: { path: '(^|/)node_modules/(fastify|@fastify/|@nestjs/platform-fastify)' },
    },
    {
      name: 'src-does-not-import-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve as TypeScript does with `moduleResolution: node`: package `exports` maps ignored.
    enhancedResolveOptions: {
      exportsFields: [],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.json'],
    },
  },
};
