import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * One at a time, after the rest: suites that run `npm run …` or `astro` in this repository's own
 * folder (its demo/, .astro/ and Astro cache are one per checkout), and the incremental-build
 * suite, whose two builds must see the same records (a preview timing out under load between
 * them would rightly re-render a page).
 */
const IN_REPO = ['test/e2e/**/*.test.ts', 'test/site/incremental.test.ts'];

export default defineConfig({
  test: {
    // One demo site build for the whole run, shared by the site suites (test/support/demo-site.ts).
    globalSetup: ['test/support/global-setup.ts'],
    // End-to-end tests build a whole Astro site; they need more than the 5 s default.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'library',
          include: ['test/**/*.test.ts'],
          exclude: IN_REPO,
          // Most suites wait on child processes, servers and the browser more than they compute:
          // two at a time even on two cores (vitest's default there is one).
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'repo', include: IN_REPO, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
