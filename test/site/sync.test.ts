/**
 * One engine run per process for everything that shows the site (site/sync.ts): the injected
 * pages and the content loader share it, a change in dev makes exactly one more run, and the
 * entries file the pages read holds the gallery's half of each record.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_INPUT_FOLDERS } from '../../src/dev/sample-library/library.ts';
import { silentLogger } from '../../src/integration/engine/util/logger.ts';
import { siteSettings } from '../../src/integration/site/settings.ts';
import { readSiteData, syncSite } from '../../src/integration/site/sync.ts';
import { createWorkspace, readableEntries, setupLibrary, TEST_API_KEY, type Workspace } from '../support/library.ts';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-sync-');
});
afterAll(async () => {
  await workspace.close();
});

const discoveries = (from: number) => workspace.fake.requests.slice(from).filter((request) => request.method === 'POST').length;

describe('syncSite', () => {
  it('runs the engine once for every caller in the process, and writes the entries the pages read', async () => {
    const { dir, config } = await setupLibrary(workspace, 'shared');
    const configFile = path.join(dir, 'civitscraper.yaml');
    const before = workspace.fake.requests.length;
    const [first, second] = await Promise.all([
      syncSite({ config, configFile, logger: silentLogger }),
      syncSite({ config, configFile, logger: silentLogger }),
    ]);
    expect(second).toBe(first);
    expect(discoveries(before)).toBe(1);
    expect(first.entries).toHaveLength(readableEntries(workspace.library).length);
    // A caller that comes later in the same process gets the same data without a run.
    expect(await syncSite({ config, configFile, logger: silentLogger })).toBe(first);

    const written = readSiteData(siteSettings(config, undefined).entriesFile);
    expect(written?.entries.map((entry) => entry.id).sort()).toEqual(first.entries.map((entry) => entry.id).sort());
    // The gallery's half: no description HTML (it is in the per-model details files).
    for (const entry of written?.entries ?? []) expect(entry.data.model?.description).toBeUndefined();
    // The unreadable files of the sample library, each once, with where it is and why.
    const unreadable = workspace.library.entries.filter((entry) => !['identified', 'unknown'].includes(entry.kind));
    const idOf = new Map(SAMPLE_INPUT_FOLDERS.map((folder) => [folder.folder, folder.id] as const));
    const expected = unreadable.map((entry) => entry.relativePath.replace(/^[^/]+/, (top) => idOf.get(top as never) ?? top));
    expect(written?.problems.map((problem) => problem.where).sort()).toEqual(expected.sort());
    for (const problem of written?.problems ?? []) expect(problem.message).not.toBe('');
  });

  it('tells how many records the scan made before it makes them into entries (what lowMemoryBuild: auto sizes the build by)', async () => {
    const { dir, config } = await setupLibrary(workspace, 'scanned');
    const configFile = path.join(dir, 'civitscraper.yaml');
    const entriesFile = siteSettings(config, undefined).entriesFile;
    const told: { models: number; entriesFileThen: boolean }[] = [];
    const data = await syncSite({ config, configFile, logger: silentLogger, onScanned: (models) => told.push({ models, entriesFileThen: existsSync(entriesFile) }) });
    expect(told).toEqual([{ models: data.entries.length, entriesFileThen: false }]);
    expect(existsSync(entriesFile)).toBe(true);
  });

  it('a change runs once more, however many watchers report it; an older change runs nothing', async () => {
    const { dir, config } = await setupLibrary(workspace, 'changes');
    const configFile = path.join(dir, 'civitscraper.yaml');
    const first = await syncSite({ config, configFile, logger: silentLogger });
    const changedAt = Date.now() + 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [a, b] = await Promise.all([
      syncSite({ config, configFile, logger: silentLogger, changedAt }),
      syncSite({ config, configFile, logger: silentLogger, changedAt }),
    ]);
    expect(a).not.toBe(first);
    expect(b).toBe(a);
    expect(await syncSite({ config, configFile, logger: silentLogger, changedAt: changedAt - 10_000 })).toBe(a);
  });

  it('a failed run is not remembered: the next caller runs again', async () => {
    const { dir, config } = await setupLibrary(workspace, 'failing');
    const configFile = path.join(dir, 'civitscraper.yaml');
    const broken = { ...config, jobs: { main: { type: 'sync-lora-triggers' } }, default_job: 'nope' } as unknown as typeof config;
    await expect(syncSite({ config: broken, configFile, logger: silentLogger })).rejects.toThrow();
    const again = await syncSite({ config, configFile, logger: silentLogger });
    expect(again.entries.length).toBeGreaterThan(0);
  });

  it('writes logging.file under Astro too, without the key', async () => {
    const { dir, config } = await setupLibrary(workspace, 'logged', {
      extra: { logging: { file: { enabled: true, directory: 'logs', filename: 'astro.log' } } },
    });
    await syncSite({ config, configFile: path.join(dir, 'civitscraper.yaml'), logger: silentLogger });
    const text = await readFile(path.join(dir, 'logs', 'astro.log'), 'utf8');
    expect(text).toMatch(/ - civitscraper - INFO - discover: \d+ model files/);
    expect(text).not.toContain(TEST_API_KEY);
  });

  it('a site run only plans an enabled organization: nothing is moved, the plan is named', async () => {
    const { dir, config } = await setupLibrary(workspace, 'organized', {
      job: { organization: { enabled: true, operation_mode: 'move', output_dir: path.join('sorted') } },
    });
    const before = await listFiles(dir);
    const lines: string[] = [];
    const logger = { ...silentLogger, info: (message: string) => lines.push(message) };
    await syncSite({ config, configFile: path.join(dir, 'civitscraper.yaml'), logger });
    const after = await listFiles(dir);
    // Sidecars and previews appear beside the models; no model file moved and no tree was made.
    for (const file of before.filter((name) => /\.(safetensors|pt)$/.test(name))) expect(after).toContain(file);
    expect(after.some((name) => name.startsWith('sorted/'))).toBe(false);
    expect(lines.find((line) => line.startsWith('organize:'))).toMatch(/planned, not applied \(run `civitscraper organize` to apply the plan\)/);
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(dir, { recursive: true })).map((name) => name.split(path.sep).join('/'));
}
