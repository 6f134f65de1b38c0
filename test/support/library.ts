/**
 * A copy of the generated sample library plus a config pointing at it and the fake CivitAI:
 * what most engine tests start from.
 */
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, sampleInputPaths, type SampleLibrary } from '../../src/dev/sample-library/index.ts';
import { parseConfig, selectJobs, type Config, type ScanJob } from '../../src/integration/engine/config/index.ts';

export const TEST_API_KEY = 'sentinel-key-0123456789';

export interface Workspace {
  root: string;
  library: SampleLibrary;
  fake: FakeCivitai;
  close(): Promise<void>;
}

export async function createWorkspace(prefix: string): Promise<Workspace> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const library = await generateSampleLibrary(path.join(root, 'pristine'));
  const fake = await startFakeCivitai({ library });
  return { root, library, fake, close: () => fake.close() };
}

export interface Setup {
  dir: string;
  config: Config;
  job: ScanJob;
  name: string;
}

/** `extra` is merged into the config (top-level keys); `job` into the single scan job. */
export async function setupLibrary(
  workspace: Workspace,
  name: string,
  options: { extra?: Record<string, unknown>; job?: Record<string, unknown> } = {},
): Promise<Setup> {
  const dir = path.join(workspace.root, name);
  await cp(path.join(workspace.root, 'pristine'), dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const text = stringify({
    api: { base_url: workspace.fake.apiBaseUrl, key: TEST_API_KEY, max_retries: 2, batch: { retry_delay: 1 } },
    input_paths: sampleInputPaths(dir),
    scanner: { cache_dir: path.join(dir, '.cache') },
    ...(options.job ? { jobs: { main: { type: 'scan-paths', ...options.job } } } : {}),
    ...options.extra,
  });
  const { config } = parseConfig(text, path.join(dir, 'civitscraper.yaml'));
  const [selected] = selectJobs(config, {});
  return { dir, config, job: selected?.job as ScanJob, name: selected?.name ?? 'default' };
}

/** The sample entries the engine can read (identified or unknown to CivitAI). */
export function readableEntries(library: SampleLibrary) {
  return library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');
}
