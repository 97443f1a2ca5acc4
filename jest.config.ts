const shared = {
  rootDir: '.',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // @fastify/static (behind /docs) requires content-disposition 3, which is ESM only; Node 20
    // loads it natively, jest's module system needs it compiled to CommonJS.
    'content-disposition.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  moduleNameMapper: { '^src/(.*)$': '<rootDir>/src/$1', '^test/(.*)$': '<rootDir>/test/$1' },
  testEnvironment: 'node',
};

if (!process.env.TEST_DATABASE_URL) {
  console.warn(
    '\n*** SKIPPED: the e2e-postgres project (every e2e file again on PostgreSQL) needs TEST_DATABASE_URL. ***\n',
  );
}

export default {
  maxWorkers: 2,
  testTimeout: 60_000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    // Faults, abuse and bad input (issue #11, docs/notes/reliability.md), on SQLite; the long
    // ones are scripts (npm run reliability:kill9).
    {
      ...shared,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.e2e-spec.ts'],
    },
    // The console in headless Chromium (Debian's package, driven by playwright-core); needs
    // `npm run build` first (npm test's pretest does it). Run alone: --selectProjects browser.
    {
      ...shared,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
    },
    // The same end-to-end files again on PostgreSQL, when a server is configured (CI sets it).
    ...(process.env.TEST_DATABASE_URL
      ? [
          {
            ...shared,
            displayName: 'e2e-postgres',
            testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
            setupFiles: ['<rootDir>/test/support/use-postgres.ts'],
          },
        ]
      : []),
  ],
};
