/**
 * Once per `vitest run`: a folder where the demo site is built the first time a test file asks
 * for it (test/support/demo-site.ts), so the site suites share one build instead of one each.
 * Removed when the run ends.
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(path.join(tmpdir(), 'cs-shared-demo-'));
  project.provide('sharedDemoRoot', root);
  return async () => {
    await rm(root, { recursive: true, force: true });
  };
}
