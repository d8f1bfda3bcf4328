/** Integration tests talk to real PostgreSQL and Redis; see test/global-setup.ts. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts', '<rootDir>/tools/**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  // Records every JSON response for the conformance test (test instrumentation, not in the app).
  setupFiles: ['<rootDir>/test/support/record-responses.cjs'],
  // The OpenAPI conformance test runs last: it checks the responses every other test recorded.
  testSequencer: '<rootDir>/test/sequencer.js',
  testTimeout: 60000,
};
