/**
 * The demo (sample library + fake CivitAI + engine + Astro build) built into a fresh temporary
 * folder, as `npm run demo` does: what the site tests look at.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSampleLibrary, type SampleLibrary } from '../../src/dev/sample-library/index.ts';

export interface DemoSite {
  work: string;
  outDir: string;
  library: SampleLibrary;
}

export async function buildDemoSite(prefix: string): Promise<DemoSite> {
  const work = await mkdtemp(path.join(tmpdir(), prefix));
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
