/**
 * Incremental builds (the bundled site of `civitscraper build` sets experimental.incrementalBuild,
 * as this repository's site does): a warm build renders no model page again when nothing
 * changed, only the new one when a model file is added, and only its own page when one model's
 * sidecar changed. Counted from Astro's own log, which
 * marks a page it did not render as "(restored)". The bundled site builds in a folder of its own,
 * so builds of other tests running at the same time share nothing with it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { slugify } from '../../src/integration/engine/records/id.ts';
import { buildSafetensors, tensorData, tensorsFor } from '../../src/dev/sample-library/formats.ts';
import { generateSampleLibrary, sampleInputPaths } from '../../src/dev/sample-library/index.ts';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..', '..');
let work: string;
let fake: FakeCivitai;
let configPath: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cs-incremental-'));
  const library = await generateSampleLibrary(path.join(work, 'library'));
  fake = await startFakeCivitai({ library });
  configPath = path.join(work, 'civitscraper.yaml');
  await writeFile(
    configPath,
    stringify({
      // Generous: on a loaded CI machine a timed-out preview would change a record between the
      // builds, and with it the page (which is then rightly rendered again).
      api: { base_url: fake.apiBaseUrl, timeout: 120, max_retries: 3 },
      input_paths: sampleInputPaths(path.join(work, 'library')),
      scanner: { cache_dir: path.join(work, 'cache') },
    }),
  );
});

afterAll(async () => {
  await fake?.close();
});

/** One build of the bundled site in a child; what Astro said about each model page. */
async function build(): Promise<{ rendered: string[]; restored: string[] }> {
  const script = `
    const { buildSite } = await import(${JSON.stringify(path.join(repo, 'src/integration/cli/build-site.ts'))});
    await buildSite({ configPath: ${JSON.stringify(configPath)}, outDir: ${JSON.stringify(path.join(work, 'dist'))}, cacheDir: ${JSON.stringify(path.join(work, 'astro-cache'))}, logLevel: 'info' });
  `;
  // With CI set, Vite's logger colours its lines even into a pipe: read them without colours.
  const { stdout: raw } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repo,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const stdout = raw.replace(/\x1b\[[0-9;]*m/g, '');
  const pages = [...stdout.matchAll(/\/models\/([^/\s]+)\/index\.html( \(restored\))?/g)];
  return {
    rendered: pages.filter((match) => !match[2]).map((match) => match[1] as string),
    restored: pages.filter((match) => match[2]).map((match) => match[1] as string),
  };
}

/** A model page of `ids` and the sidecar of ours beside its file (`<stem>.json`). */
async function ownSidecarOf(ids: readonly string[]): Promise<{ id: string; sidecar: string }> {
  for (const file of await readdir(path.join(work, 'library'), { recursive: true })) {
    if (!file.endsWith('.safetensors')) continue;
    const stem = path.basename(file, '.safetensors');
    const id = ids.find((candidate) => candidate.startsWith(`${slugify(stem)}-`) && /^[0-9a-f]{10}$/.test(candidate.slice(slugify(stem).length + 1)));
    const sidecar = path.join(work, 'library', path.dirname(file), `${stem}.json`);
    if (id && (await readFile(sidecar, 'utf8').catch(() => '')).includes('"civitscraper"')) return { id, sidecar };
  }
  throw new Error('no model page with a sidecar of ours in the sample library');
}

describe('incremental builds', () => {
  it('renders 0 model pages again when nothing changed, only the new one when a file is added, and only its own when one model changed', async () => {
    const cold = await build();
    expect(cold.rendered.length).toBeGreaterThan(5);
    expect(cold.restored).toEqual([]);

    const warm = await build();
    expect(warm.rendered).toEqual([]);
    expect(warm.restored.sort()).toEqual(cold.rendered.sort());
    // A restored page is the page as it rendered, relative URLs included (no pass over the files
    // after the build gives them): it works from disk, and its stylesheet is where it points.
    const restored = await readFile(path.join(work, 'dist', 'models', warm.restored[0] as string, 'index.html'), 'utf8');
    expect(restored).not.toMatch(/\s(?:src|href)="\/(?!\/)/);
    const sheet = /href="\.\.\/\.\.\/(_astro\/[^"]+\.css)"/.exec(restored)?.[1];
    expect(sheet).toBeDefined();
    expect((await readFile(path.join(work, 'dist', sheet as string), 'utf8')).length).toBeGreaterThan(0);

    const tensors = tensorsFor('lora-sd15', 4096);
    await writeFile(path.join(work, 'library', 'Lora', 'brand new.safetensors'), buildSafetensors(tensors, tensorData(tensors, 'brand new'), undefined));
    const added = await build();
    expect(added.rendered).toHaveLength(1);
    expect(added.rendered[0]).toMatch(/^brand-new-[0-9a-f]{10}$/);
    expect(added.restored.sort()).toEqual(cold.rendered.sort());

    // One model changed: a note written into its A1111 user metadata (with the default config,
    // our own sidecar), as the WebUI's "Edit metadata" does. Its page shows it; no other page does.
    const { id: changedId, sidecar } = await ownSidecarOf(cold.rendered);
    const document = JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>;
    await writeFile(sidecar, JSON.stringify({ ...document, notes: 'Best at 0.7 with a warm palette' }, null, 2));
    const changed = await build();
    expect(changed.rendered).toEqual([changedId]);
    expect(changed.restored).toHaveLength(cold.rendered.length);
    expect(await readFile(path.join(work, 'dist', 'models', changedId, 'index.html'), 'utf8')).toContain('Best at 0.7 with a warm palette');
  });
});
