/**
 * Once per `vitest run`:
 * - one folder for every temporary folder the run makes: TMPDIR points into it, so the suites'
 *   `mkdtemp(tmpdir())` (and the servers, builds and browsers they start) land there, and a run
 *   leaves nothing behind in the machine's temp folder (a full run made several GB of them);
 * - in it, a folder where the demo site is built the first time a test file asks for it
 *   (test/support/demo-site.ts), so the site suites share one build instead of one each.
 * Each vitest project runs this setup: the first one makes the run's folder and removes it at
 * the end; the others use it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedDemoRoot: string;
  }
}

/** Set while a run's folder exists: the projects after the first find it here. */
const RUN_ROOT = 'CIVITSCRAPER_TEST_RUN_ROOT';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env[RUN_ROOT];
  const owner = existing === undefined;
  const previous = process.env.TMPDIR;
  const runRoot = existing ?? (await mkdtemp(path.join(tmpdir(), 'cs-test-run-')));
  if (owner) {
    process.env[RUN_ROOT] = runRoot;
    // Read by os.tmpdir() on every call, and inherited by the test workers started after this.
    process.env.TMPDIR = runRoot;
  }
  const demoRoot = await mkdtemp(path.join(runRoot, 'shared-demo-'));
  project.provide('sharedDemoRoot', demoRoot);
  return async () => {
    if (!owner) {
      await rm(demoRoot, { recursive: true, force: true, maxRetries: 3 });
      return;
    }
    delete process.env[RUN_ROOT];
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(runRoot, { recursive: true, force: true, maxRetries: 3 });
  };
}
