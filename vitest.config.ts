import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One demo site build for the whole run, shared by the site suites (test/support/demo-site.ts).
    globalSetup: ['test/support/global-setup.ts'],
    // End-to-end tests build a whole Astro site; they need more than the 5 s default.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
