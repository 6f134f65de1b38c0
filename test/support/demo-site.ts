/**
 * The demo (sample library + fake CivitAI + engine + Astro build), built as `npm run demo` does:
 * what the site tests look at.
 *
 * `buildDemoSite` gives every caller of one `vitest run` the same build (made by the first one,
 * under a lock, in the run's shared folder from global-setup.ts): the site suites only read it,
 * and a build costs half a minute. A test that changes the site or its library uses
 * `buildPrivateDemoSite`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { loadSampleLibrary, type SampleLibrary } from '../../src/dev/sample-library/index.ts';

export interface DemoSite {
  work: string;
  outDir: string;
  library: SampleLibrary;
}

async function build(work: string): Promise<DemoSite> {
  const outDir = path.join(work, 'dist');
  await promisify(execFile)(process.execPath, [
    'src/dev/demo.ts',
    '--demo-dir', path.join(work, 'demo'),
    '--out', outDir,
    '--astro-cache', path.join(work, 'astro-cache'),
    '--quiet',
  ]);
  return { work, outDir, library: await loadSampleLibrary(path.join(work, 'demo', 'library')) };
}

/** A build of its own, in a new temporary folder. */
export async function buildPrivateDemoSite(prefix: string): Promise<DemoSite> {
  return build(await mkdtemp(path.join(tmpdir(), prefix)));
}

/** The run's shared build (read it, do not change it); a private one outside `vitest run`'s setup. */
export async function buildDemoSite(prefix: string): Promise<DemoSite> {
  let root: string | undefined;
  try {
    root = inject('sharedDemoRoot');
  } catch {
    root = undefined;
  }
  if (!root) return buildPrivateDemoSite(prefix);
  const work = path.join(root, 'demo-site');
  const done = path.join(root, 'demo-site.done');
  const lock = path.join(root, 'demo-site.lock');
  // A builder that died leaves its lock: after this long the waiter builds a site of its own.
  const giveUpAt = Date.now() + 300_000;
  for (;;) {
    if (await exists(done)) return { work, outDir: path.join(work, 'dist'), library: await loadSampleLibrary(path.join(work, 'demo', 'library')) };
    try {
      // Test files may run side by side: one builds, the others wait for its mark.
      await mkdir(lock);
    } catch {
      if (Date.now() > giveUpAt) return buildPrivateDemoSite(prefix);
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    try {
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { recursive: true });
      const site = await build(work);
      await writeFile(done, `${Date.now()}\n`);
      return site;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
