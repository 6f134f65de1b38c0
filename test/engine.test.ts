import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../src/integration/engine/run.ts';
import { createWorkspace, readableEntries, setupLibrary, TEST_API_KEY, type Workspace } from './support/library.ts';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-engine-');
});
afterAll(async () => {
  await workspace.close();
});

const setup = (name: string) => setupLibrary(workspace, name);
const readable = () => readableEntries(workspace.library);

describe('runScanJob on the sample library', () => {
  it('identifies known files, marks unknown ones, reports and skips bad ones', async () => {
    const { dir, config, job, name } = await setup('first');
    const before = workspace.fake.requests.length;
    const { records, report } = await runScanJob({ config, job, jobName: name });

    expect(records).toHaveLength(readable().length);
    for (const entry of workspace.library.entries) {
      const record = records.find((candidate) => candidate.file.relativePath === entry.relativePath.split('/').slice(1).join('/'));
      if (entry.kind === 'identified') {
        expect(record?.civitai.status, entry.relativePath).toBe('identified');
        expect(record?.version?.id).toBe(entry.binding?.versionId);
        expect(record?.hashes.SHA256).toBe(entry.sha256);
      } else if (entry.kind === 'unknown') {
        expect(record?.civitai.status, entry.relativePath).toBe('not-found');
      } else {
        expect(record, entry.relativePath).toBeUndefined();
        expect(report.errors.map((error) => path.relative(dir, error.path))).toContain(entry.relativePath);
      }
    }
    expect(report.files.found).toBe(readable().length + 3); // + empty, truncated, not-json (the broken link is not a file)
    expect(report.files.failed).toBe(4);
    expect(report.api.identified).toBe(workspace.library.entries.filter((entry) => entry.kind === 'identified').length);
    expect(report.api.notFound).toBe(workspace.library.entries.filter((entry) => entry.kind === 'unknown').length);
    expect(report.hash.files).toBe(readable().length);
    expect(report.hash.bytes).toBe(readable().reduce((sum, entry) => sum + entry.size, 0));
    expect(report.images.downloaded).toBeGreaterThan(0);

    // One batch POST identifies every file: no per-hash GET.
    const mine = workspace.fake.requests.slice(before);
    expect(mine.filter((request) => request.method === 'POST' && request.path.endsWith('/model-versions/by-hash'))).toHaveLength(1);
    expect(mine.filter((request) => request.path.includes('/model-versions/by-hash/'))).toHaveLength(0);
    // Parent models: one list call, then single GETs only for what the list lacked.
    const parentIds = new Set(records.map((record) => record.version?.modelId).filter(Boolean));
    const modelCalls = mine.filter((request) => /\/api\/v1\/models(\/|$)/.test(request.path));
    expect(modelCalls.length).toBeLessThanOrEqual(1 + parentIds.size);
    expect(modelCalls.filter((request) => request.path === '/api/v1/models')).toHaveLength(1);
    // The key goes to the API, never to the image CDN.
    for (const request of mine) {
      if (request.path.startsWith('/cdn/')) expect(request.headers.authorization).toBeUndefined();
      else expect(request.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    }

    // Sidecars: the seed's layout, with our own section, no API key.
    const lora = records.find((record) => record.version?.id === 1967584);
    expect(lora?.model?.creator?.username).toBeTruthy();
    const sidecarPath = path.join(path.dirname(lora?.file.path ?? ''), `${lora?.file.stem}.json`);
    const sidecar = JSON.parse(await readFile(sidecarPath, 'utf8'));
    expect(sidecar.id).toBe(1967584);
    expect(sidecar.parentModel.creator.username).toBe(lora?.model?.creator?.username);
    expect(sidecar.civitscraper.hashes.SHA256).toBe(lora?.hashes.SHA256);
    expect(JSON.stringify(sidecar)).not.toContain('sentinel-key');
    for (const image of lora?.images ?? []) expect((await stat(image.path)).size).toBeGreaterThan(0);

    // The safetensors header's training metadata is on the record, for any file.
    expect(lora?.training?.tags.length).toBeGreaterThan(0);
    const unknown = records.find((record) => record.civitai.status === 'not-found' && record.file.ext === '.safetensors');
    expect(unknown?.file.name).toBeTruthy();
  });

  it('a second run reads no file and asks the API nothing', async () => {
    const { config, job, name } = await setup('rerun');
    await runScanJob({ config, job, jobName: name });
    const before = workspace.fake.requests.length;
    const { records, report } = await runScanJob({ config, job, jobName: name });
    const identified = records.filter((record) => record.civitai.status === 'identified');
    expect(identified.length).toBe(workspace.library.entries.filter((entry) => entry.kind === 'identified').length);
    // Identified files come back from their sidecars, unknown ones from the hash ledger and
    // the week-long memory of CivitAI's 404s.
    expect(report.hash.bytes).toBe(0);
    expect(report.hash.fromLedger).toBe(readable().filter((entry) => entry.kind === 'unknown').length);
    expect(report.api.notFound).toBe(readable().filter((entry) => entry.kind === 'unknown').length);
    expect(report.sidecars.written).toBe(0);
    expect(workspace.fake.requests.slice(before)).toEqual([]);
  });

  it('a renamed or moved file is not read again', async () => {
    const { dir, config, job, name } = await setup('rename');
    await runScanJob({ config, job, jobName: name });
    const from = path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.safetensors');
    const to = path.join(dir, 'Lora', 'SDXL', 'renamed lora.safetensors');
    await rename(from, to);
    const { records, report } = await runScanJob({ config, job, jobName: name });
    expect(report.hash.files).toBe(0);
    expect(report.hash.fromLedger).toBeGreaterThanOrEqual(1);
    const moved = records.find((record) => record.file.path === to);
    expect(moved?.civitai.status).toBe('identified');
    expect(moved?.version?.id).toBe(1967584);
  });

  it('never replaces a good sidecar when the API fails', async () => {
    const { dir, config, job, name } = await setup('outage');
    await runScanJob({ config, job, jobName: name });
    const sidecarPath = path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.json');
    const good = await readFile(sidecarPath, 'utf8');
    workspace.fake.setFaults({ rate500: 1, paths: ['/api/'] });
    try {
      const { records, report } = await runScanJob({ config, job, jobName: name, forceRefresh: true });
      const record = records.find((candidate) => candidate.file.name === 'Semi-realistic illustrious v1.5.safetensors');
      expect(record?.civitai.status).toBe('unknown');
      expect(record?.version?.id).toBe(1967584);
      expect(report.errors.some((error) => error.stage === 'identify')).toBe(true);
      expect(report.api.notFound).toBe(0);
    } finally {
      workspace.fake.setFaults({});
    }
    expect(await readFile(sidecarPath, 'utf8')).toBe(good);
  });

  it('merges into an A1111 user-metadata .json without changing what the user set', async () => {
    const { dir, config, job, name } = await setup('a1111');
    const userFile = path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.json');
    const user = { 'activation text': 'my words', 'preferred weight': 0.7, notes: 'mine', 'sd version': 'SD1' };
    await writeFile(userFile, JSON.stringify(user, null, 4));
    const { records } = await runScanJob({ config, job, jobName: name });
    const merged = JSON.parse(await readFile(userFile, 'utf8'));
    expect(merged).toMatchObject(user);
    expect(merged.id).toBe(1967584);
    expect(merged.civitscraper.version.id).toBe(1967584);
    const record = records.find((candidate) => candidate.file.name === 'Semi-realistic illustrious v1.5.safetensors');
    expect(record?.civitai.status).toBe('identified');
  });

  it('leaves a .json of another tool untouched and says so', async () => {
    const { dir, config, job, name } = await setup('foreign');
    const otherFile = path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.json');
    const other = JSON.stringify({ someOtherTool: { keep: true } });
    await writeFile(otherFile, other);
    const { records, report } = await runScanJob({ config, job, jobName: name });
    expect(await readFile(otherFile, 'utf8')).toBe(other);
    const record = records.find((candidate) => candidate.file.name === 'Semi-realistic illustrious v1.5.safetensors');
    expect(record?.civitai.status).toBe('identified');
    expect(report.warnings.some((warning) => warning.path === record?.file.path && warning.message.includes('left untouched'))).toBe(true);
  });

  it('dry run writes no sidecar and no preview', async () => {
    const { dir, config, job, name } = await setup('dry');
    const { report } = await runScanJob({ config, job, jobName: name, dryRun: true });
    expect(report.sidecars.written).toBe(0);
    expect(report.images.downloaded).toBe(0);
    await expect(stat(path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.json'))).rejects.toThrow();
  });
});

describe('match sanity check', () => {
  it('flags a match whose CivitAI file has another size as doubtful, and keeps it', async () => {
    const { startFakeCivitai } = await import('../src/dev/fake-civitai/index.ts');
    const bindings = workspace.library.entries
      .filter((entry) => entry.binding && entry.sha256)
      .map((entry) => ({
        sha256: entry.sha256 as string,
        size: entry.relativePath.endsWith('Semi-realistic illustrious v1.5.safetensors') ? 9 * 1024 * 1024 : entry.size,
        versionId: entry.binding?.versionId as number,
      }));
    const wrongSizes = await startFakeCivitai({ bindings });
    try {
      const { config, job, name } = await setup('doubtful');
      const { records } = await runScanJob({ config: { ...config, api: { ...config.api, base_url: wrongSizes.apiBaseUrl } }, job, jobName: name });
      const flagged = records.find((record) => record.file.name === 'Semi-realistic illustrious v1.5.safetensors');
      expect(flagged?.civitai.status).toBe('identified');
      expect(flagged?.civitai.doubtful).toMatch(/9437184 bytes/);
      expect(records.filter((record) => record.civitai.doubtful)).toHaveLength(1);
    } finally {
      await wrongSizes.close();
    }
  });
});
