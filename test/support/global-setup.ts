/**
 * Once per `vitest run`:
 * - one folder for every temporary folder the run makes: TMPDIR points into it, so the suites'
 *   `mkdtemp(tmpdir())` (and the servers, builds and browsers they start) land there, and a run
 *   leaves nothing behind in the machine's temp folder (a full run made several GB of them);
 * - in it, a folder where the demo site is built the first time a test file asks for it
 *   (test/support/demo-site.ts), so the site suites share one build instead of one each.
 * Both are removed when the run ends.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedDemoRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runRoot = await mkdtemp(path.join(tmpdir(), 'cs-test-run-'));
  const previous = process.env.TMPDIR;
  // Read by os.tmpdir() on every call, and inherited by the test workers started after this.
  process.env.TMPDIR = runRoot;
  const demoRoot = path.join(runRoot, 'shared-demo');
  await mkdir(demoRoot);
  project.provide('sharedDemoRoot', demoRoot);
  return async () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(runRoot, { recursive: true, force: true, maxRetries: 3 });
  };
}
