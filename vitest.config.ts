import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests build a whole Astro site; they need more than the 5 s default.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
