/**
 * The CLI wiring: `civitscraper link FILE VERSION` / `link --remove FILE`, and `--offline`
 * (no request reaches the fake CivitAI; the archive identifies). Spawns the compiled CLI
 * (`npm run compile` first).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLinks } from '../../src/integration/engine/sources/links.ts';
import { BIN, childEnv, createCliWorkspace, libraryCopy, type CliResult, type CliWorkspace } from '../cli/helpers.ts';
import { buildArchiveDb, type ArchiveEntry } from '../../src/dev/fake-civarchive.ts';

let workspace: CliWorkspace;
beforeAll(async () => {
  workspace = await createCliWorkspace('cs-cli-sources-');
});
afterAll(async () => {
  await workspace.close();
});

function run(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv(workspace), cwd: workspace.root }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('civitscraper link', () => {
  it('links by AIR, the scan marks it linked by hand, --remove forgets it; bad references exit 2', async () => {
    const copy = await libraryCopy(workspace, 'link');
    const file = path.join(copy.dir, 'Lora', 'my own lora [wip].safetensors');
    const bad = await run(['link', file, 'https://civitai.com/models/1231067', '-c', copy.file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/names no version/);
    expect((await run(['link', file, '-c', copy.file])).code).toBe(2);

    const linked = await run(['link', file, 'urn:air:flux1:lora:civitai:1231067@1387174', '-c', copy.file, '--json']);
    expect(linked.code, linked.stderr).toBe(0);
    const store = await readLinks(path.join(copy.dir, '.cache'));
    expect(Object.values(store.links).map((entry) => entry.versionId)).toEqual([1387174]);

    const scan = await run(['-c', copy.file, '--no-site', '--unreadable', 'warn']);
    expect(scan.code, scan.stderr).toBe(0);
    const sidecar = JSON.parse(await readFile(path.join(copy.dir, 'Lora', 'my own lora [wip].json'), 'utf8'));
    expect(sidecar.id).toBe(1387174);
    expect(sidecar.civitscraper.linked).toBe(true);

    const removed = await run(['link', '--remove', file, '-c', copy.file]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toMatch(/removed the link/);
    expect(Object.keys((await readLinks(path.join(copy.dir, '.cache'))).links)).toHaveLength(0);
  });
});

describe('--offline', () => {
  it('sends no request and identifies from sources.archive_db', async () => {
    const entries: ArchiveEntry[] = [];
    for (const entry of workspace.library.entries) {
      if (entry.kind !== 'identified' || !entry.binding) continue;
      const version = await (await fetch(`${workspace.fake.apiBaseUrl}/model-versions/${entry.binding.versionId}`)).json();
      entries.push({ version });
    }
    const archive = path.join(workspace.root, 'archive.sqlite');
    await buildArchiveDb(archive, entries);
    const copy = await libraryCopy(workspace, 'offline', { extra: { sources: { archive_db: archive } } });
    workspace.fake.requests.length = 0;
    const result = await run(['-c', copy.file, '--offline', '--no-site', '--unreadable', 'warn']);
    expect(result.code, result.stderr).toBe(0);
    expect(workspace.fake.requests).toHaveLength(0);
    expect(result.stderr).toMatch(/ran from the archive/);
  });
});
