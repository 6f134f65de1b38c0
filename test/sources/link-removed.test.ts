/**
 * Manual links (by SHA-256, surviving renames; fetched by version id; "linked by hand") and
 * deleted models (a 404 now keeps what CivitAI said before, flagged removedFromCivitai; archive
 * data never replaces richer API data). Fake CivitAI on 127.0.0.1 only.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { parseVersionRef, readLinks, writeLinks } from '../../src/integration/engine/sources/links.ts';
import { parseConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { createWorkspace, setupLibrary, type Workspace } from '../support/library.ts';
import { archiveFixture, recordedEntries } from './helpers.ts';

let workspace: Workspace;
let emptyFake: FakeCivitai;
beforeAll(async () => {
  workspace = await createWorkspace('cs-links-');
  // A CivitAI that knows none of the library's hashes: every lookup is a real 404 / empty batch.
  emptyFake = await startFakeCivitai();
});
afterAll(async () => {
  await emptyFake.close();
  await workspace.close();
});

const UNKNOWN = 'Lora/my own lora [wip].safetensors';

describe('parseVersionRef', () => {
  it('takes an id, civitai.com / civitai.red URLs with modelVersionId=, and AIRs', () => {
    expect(parseVersionRef('1387174')).toBe(1387174);
    expect(parseVersionRef(1387174)).toBe(1387174);
    expect(parseVersionRef('https://civitai.com/models/1231067/vivid?modelVersionId=1387174')).toBe(1387174);
    expect(parseVersionRef('https://civitai.red/models/1231067?modelVersionId=1387174')).toBe(1387174);
    expect(parseVersionRef('urn:air:sdxl:lora:civitai:1231067@1387174')).toBe(1387174);
    expect(parseVersionRef('urn:air:flux1:lora:civitai:1231067@1387174.safetensors')).toBe(1387174);
    expect(() => parseVersionRef('https://civitai.com/models/1231067')).toThrow(/names no version/);
    expect(() => parseVersionRef('vivid')).toThrow(/not a version id/);
    expect(() => parseVersionRef('0')).toThrow(/not a valid/);
  });
});

describe('civitscraper link', () => {
  it('a linked file is fetched by version id, marked linked by hand, and stays linked after a rename; --remove undoes it', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'linked');
    const first = await runScanJob({ config, job, jobName: name });
    const before = first.records.find((record) => record.file.relativePath === UNKNOWN.split('/').slice(1).join('/'));
    expect(before?.civitai.status).toBe('not-found');
    const sha = before?.hashes.SHA256 as string;

    const store = await readLinks(config.scanner.cache_dir);
    store.links[sha] = { versionId: 1387174, ref: 'urn:air:flux1:lora:civitai:1231067@1387174', path: before?.file.path ?? '', linkedAt: new Date().toISOString() };
    await writeLinks(store);
    workspace.fake.requests.length = 0;
    const second = await runScanJob({ config, job, jobName: name });
    const linked = second.records.find((record) => record.hashes.SHA256 === sha);
    expect(linked?.civitai).toMatchObject({ status: 'identified', linked: true, source: 'civitai' });
    expect(linked?.version?.id).toBe(1387174);
    expect(linked?.model?.id).toBe(1231067);
    expect(workspace.fake.requests.some((request) => request.method === 'GET' && request.path === '/api/v1/model-versions/1387174')).toBe(true);
    const sidecar = JSON.parse(await readFile(path.join(path.dirname(linked?.file.path ?? ''), `${linked?.file.stem}.json`), 'utf8'));
    expect(sidecar.civitscraper.linked).toBe(true);
    expect(sidecar.id).toBe(1387174);

    // Renamed (its sidecar left behind): the link follows the bytes.
    const moved = path.join(dir, 'Lora', 'renamed-by-user.safetensors');
    await rename(linked?.file.path as string, moved);
    const third = await runScanJob({ config, job, jobName: name });
    const after = third.records.find((record) => record.file.path === moved);
    expect(after?.civitai).toMatchObject({ status: 'identified', linked: true });
    expect(after?.version?.id).toBe(1387174);

    // --remove: the next run identifies it by hash again (not found), the linked data is not kept.
    const again = await readLinks(config.scanner.cache_dir);
    delete again.links[sha];
    await writeLinks(again);
    const fourth = await runScanJob({ config, job, jobName: name });
    const unlinked = fourth.records.find((record) => record.file.path === moved);
    expect(unlinked?.civitai.status).toBe('not-found');
    expect(unlinked?.civitai.linked).toBeUndefined();
    expect(unlinked?.version).toBeUndefined();
  });

  it('civitscraper.link written into a sidecar by another tool is used too', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'sidecar-link');
    const stem = path.basename(UNKNOWN, '.safetensors');
    await writeFile(path.join(dir, 'Lora', `${stem}.json`), JSON.stringify({ 'activation text': 'x', civitscraper: { link: 'https://civitai.com/models/1231067?modelVersionId=1387174' } }));
    const { records } = await runScanJob({ config, job, jobName: name });
    const record = records.find((candidate) => candidate.file.stem === stem);
    expect(record?.civitai).toMatchObject({ status: 'identified', linked: true });
    expect(record?.version?.id).toBe(1387174);
    const sidecar = JSON.parse(await readFile(path.join(dir, 'Lora', `${stem}.json`), 'utf8'));
    expect(sidecar['activation text']).toBe('x');
    expect(sidecar.civitscraper.link).toBe('https://civitai.com/models/1231067?modelVersionId=1387174');
  });
});

describe('civitai.red as a source', () => {
  it('a file only civitai.red knows is identified there, parent model included', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'red', {
      extra: {
        api: { base_url: emptyFake.apiBaseUrl, key: 'k', max_retries: 0, batch: { retry_delay: 1 } },
        sources: { order: ['civitai', 'civitai_red'], civitai_red: { base_url: workspace.fake.apiBaseUrl } },
      },
    });
    const { records } = await runScanJob({ config, job, jobName: name });
    const lora = records.find((record) => record.version?.id === 1967584);
    expect(lora?.civitai).toMatchObject({ status: 'identified', source: 'civitai_red' });
    expect(lora?.model?.id).toBe(1580878);
  });
});

describe('deleted on CivitAI, never purged', () => {
  it('a model CivitAI answered for before and now 404s keeps its data, flagged removedFromCivitai; archive data does not replace it', async () => {
    const entries = await recordedEntries(workspace);
    // An archive whose copy of version 1967584 is poorer (no description, no trained words).
    const poorer = entries.map((entry) =>
      entry.version.id === 1967584 ? { ...entry, version: { ...entry.version, description: null, trainedWords: [], name: 'archive copy' } } : entry,
    );
    const archive = await archiveFixture(workspace, poorer, 'poorer.sqlite');
    const { dir, config, job, name } = await setupLibrary(workspace, 'removed');
    const first = await runScanJob({ config, job, jobName: name });
    const api = first.records.find((record) => record.version?.id === 1967584);
    expect(api?.civitai.source).toBe('civitai');

    // Now CivitAI knows none of these hashes (deleted), and the archive is listed after it.
    const text = (await readFile(path.join(dir, 'civitscraper.yaml'), 'utf8').catch(() => '')) || '';
    void text;
    const later = parseConfig(
      JSON.stringify({
        api: { base_url: emptyFake.apiBaseUrl, key: 'k', max_retries: 0, batch: { retry_delay: 1 } },
        input_paths: Object.fromEntries(Object.entries(config.input_paths).map(([id, input]) => [id, { path: input.path, type: input.type }])),
        scanner: { cache_dir: config.scanner.cache_dir },
        sources: { archive_db: archive },
      }),
      path.join(dir, 'later.yaml'),
    ).config;
    const [selected] = selectJobs(later, {});
    const second = await runScanJob({ config: later, job: selected?.job as ScanJob, jobName: 'later', forceRefresh: true });
    const kept = second.records.find((record) => record.file.path === api?.file.path);
    expect(kept?.civitai.status).toBe('identified');
    expect(kept?.civitai.removedFromCivitai).toBe(true);
    expect(kept?.civitai.source).toBe('civitai');
    expect(kept?.version?.name).toBe(api?.version?.name);
    expect(kept?.version?.trainedWords).toEqual(api?.version?.trainedWords);
    expect(kept?.model?.id).toBe(api?.model?.id);
    const sidecar = JSON.parse(await readFile(path.join(path.dirname(kept?.file.path ?? ''), `${kept?.file.stem}.json`), 'utf8'));
    expect(sidecar.civitscraper.removedFromCivitai).toBe(true);
    expect(sidecar.name).toBe(api?.version?.name);
  });
});
