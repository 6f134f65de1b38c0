import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdnRendition } from '../src/integration/engine/media/cdn.ts';
import { isCompleteMedia } from '../src/integration/engine/media/sniff.ts';
import { runScanJob } from '../src/integration/engine/run.ts';
import { sdVersion } from '../src/integration/engine/sidecars/a1111.ts';
import { PNG_AS_JPEG_UUID } from '../src/dev/fake-civitai/index.ts';
import { createWorkspace, setupLibrary, type Workspace } from './support/library.ts';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-sidecars-');
});
afterAll(async () => {
  await workspace.close();
});

const LORA = 'Semi-realistic illustrious v1.5';
const api = async (route: string) => (await fetch(`${workspace.fake.apiBaseUrl}${route}`)).json() as Promise<Record<string, unknown>>;

/** Every file below `dir` (but the engine's own cache folder) with its size, mtime and content hash. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory() && full === path.join(dir, '.cache')) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const info = await stat(full);
        const digest = createHash('sha256').update(await readFile(full)).digest('hex');
        result.set(path.relative(dir, full), `${info.size}:${info.mtimeMs}:${digest}`);
      }
    }
  };
  await walk(dir);
  return result;
}

describe('compat files', () => {
  it('writes .civitai.info, merged A1111 keys and the WebUI preview with exact content', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'compat');
    const { records } = await runScanJob({ config, job, jobName: name });
    const record = records.find((candidate) => candidate.file.stem === LORA);
    const loraDir = path.join(dir, 'Lora');
    const byHash = await api(`/model-versions/by-hash/${record?.hashes.SHA256}`);
    const model = await api('/models/1580878');

    const info = JSON.parse(await readFile(path.join(loraDir, `${LORA}.civitai.info`), 'utf8'));
    expect(info).toEqual({
      ...byHash,
      model: { ...(byHash.model as object), description: model.description, tags: model.tags },
      creator: model.creator,
    });

    const sidecar = JSON.parse(await readFile(path.join(loraDir, `${LORA}.json`), 'utf8'));
    const trained = (byHash.trainedWords as string[]).map((word) => word.trim().replace(/,+$/, '').trim()).filter(Boolean);
    expect(sidecar['activation text']).toBe(trained.join(', '));
    expect(sidecar['sd version']).toBe('SDXL');
    expect(sidecar.sha256).toBe(record?.hashes.SHA256);
    expect(sidecar.modelVersionId).toBe(1967584);
    expect(typeof sidecar.description).toBe('string');
    expect(sidecar.description).not.toMatch(/<[a-z]/i);
    // CivitAI's own HTML description is kept whole in our section.
    expect(sidecar.civitscraper.version.description).toBe(byHash.description);
    expect(sidecar.civitscraper.a1111['activation text']).toBe(trained.join(', '));

    const first = record?.images[0];
    const preview = await readFile(path.join(loraDir, `${LORA}.preview${path.extname(first?.path ?? '')}`));
    expect(preview.equals(await readFile(first?.path ?? ''))).toBe(true);
  });

  it('keeps A1111 keys the user set, and updates only values it wrote itself', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'a1111-user', {
      job: { output: { metadata: { filename: '{model_name}.civitscraper.json' } } },
    });
    const userFile = path.join(dir, 'Lora', `${LORA}.json`);
    await writeFile(userFile, JSON.stringify({ 'activation text': 'my own trigger', notes: 'keep me', 'preferred weight': 0.6 }, null, 4));
    await runScanJob({ config, job, jobName: name });
    const merged = JSON.parse(await readFile(userFile, 'utf8'));
    expect(merged).toMatchObject({ 'activation text': 'my own trigger', notes: 'keep me', 'preferred weight': 0.6, 'sd version': 'SDXL' });
    expect(merged.id).toBeUndefined();
    const ours = JSON.parse(await readFile(path.join(dir, 'Lora', `${LORA}.civitscraper.json`), 'utf8'));
    expect(ours.civitscraper.a1111['activation text']).toBeUndefined();
    expect(ours.civitscraper.a1111['sd version']).toBe('SDXL');

    // The user changes `sd version`; a forced refresh must not undo it.
    await writeFile(userFile, JSON.stringify({ ...merged, 'sd version': 'SD1' }, null, 4));
    await runScanJob({ config, job, jobName: name, forceRefresh: true });
    expect(JSON.parse(await readFile(userFile, 'utf8'))['sd version']).toBe('SD1');
  });

  it('maps base models to the WebUI sd version', () => {
    expect(sdVersion('SD 1.5')).toBe('SD1');
    expect(sdVersion('SDXL 1.0')).toBe('SDXL');
    expect(sdVersion('Pony')).toBe('SDXL');
    expect(sdVersion('SD 3.5')).toBe('SD3');
    expect(sdVersion('Flux.1 D')).toBe('Unknown');
  });
});

describe('where files go, and how often', () => {
  it('output.base_dir leaves every model folder byte-identical and keeps same-named files apart', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'central', {
      extra: { output: { base_dir: path.join(workspace.root, 'central-out') } },
    });
    const before = await snapshot(dir);
    const { records } = await runScanJob({ config, job, jobName: name });
    expect(await snapshot(dir)).toEqual(before);
    const record = records.find((candidate) => candidate.file.stem === LORA);
    expect(record?.sidecarPath).toBe(path.join(workspace.root, 'central-out', 'loras', `${LORA}.json`));
    expect(record?.images[0]?.path.startsWith(path.join(workspace.root, 'central-out', 'loras'))).toBe(true);
  });

  it('a second run rewrites no file (mtimes unchanged)', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'twice');
    await runScanJob({ config, job, jobName: name });
    const first = await snapshot(dir);
    const { report } = await runScanJob({ config, job, jobName: name });
    expect(report.sidecars.written).toBe(0);
    expect(report.images.downloaded).toBe(0);
    expect(await snapshot(dir)).toEqual(first);
  });
});

describe('previews', () => {
  it('saves a PNG served under a .jpeg URL as .png', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'png');
    const { records } = await runScanJob({ config, job, jobName: name });
    const record = records.find((candidate) => candidate.version?.id === 1387174);
    expect(record?.images[0]?.url).toContain(PNG_AS_JPEG_UUID);
    expect(record?.images[0]?.url).toMatch(/\.jpeg$/);
    expect(path.extname(record?.images[0]?.path ?? '')).toBe('.png');
  });

  it('asks the CDN for the configured width, and keeps videos with a still frame', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'video');
    const before = workspace.fake.requests.length;
    const { records } = await runScanJob({ config, job, jobName: name });
    const cdn = workspace.fake.requests.slice(before).filter((request) => request.path.startsWith('/cdn/'));
    expect(cdn.length).toBeGreaterThan(0);
    for (const request of cdn) expect(request.path).toMatch(/\/width=1200(,anim=false,transcode=true)?\//);
    const video = records.find((candidate) => candidate.version?.id === 1279184);
    const clip = video?.images[0];
    expect(clip?.type).toBe('video');
    expect(path.extname(clip?.path ?? '')).toBe('.mp4');
    expect(clip?.still).toMatch(/\.preview1\.still\.jpeg$/);
    expect((await stat(clip?.still ?? '')).size).toBeGreaterThan(0);
  });

  it('a truncated download leaves nothing behind', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'truncated');
    workspace.fake.setFaults({ rateTruncated: 1, paths: ['/cdn/'] });
    try {
      const { records, report } = await runScanJob({ config, job, jobName: name });
      expect(report.images.downloaded).toBe(0);
      expect(report.images.failed).toBeGreaterThan(0);
      expect(records.every((record) => record.images.length === 0)).toBe(true);
    } finally {
      workspace.fake.setFaults({});
    }
    const leftovers = [...(await snapshot(dir)).keys()].filter((file) => /\.preview|\.tmp$/.test(file));
    expect(leftovers).toEqual([]);
  });

  it('with the NSFW ceiling at PG downloads nothing above PG; at XXX takes the NSFW previews from /images', async () => {
    const pg = await setupLibrary(workspace, 'nsfw-pg', { job: { output: { images: { max_nsfw_level: 'PG' } } } });
    const before = workspace.fake.requests.length;
    const safe = await runScanJob({ config: pg.config, job: pg.job, jobName: pg.name });
    expect(safe.records.flatMap((record) => record.images).every((image) => image.nsfwLevel === 1)).toBe(true);
    expect(workspace.fake.requests.slice(before).some((request) => request.path === '/api/v1/images')).toBe(false);

    const all = await setupLibrary(workspace, 'nsfw-xxx', { job: { output: { images: { max_nsfw_level: 'XXX', max_count: 10 } } } });
    const open = await runScanJob({ config: all.config, job: all.job, jobName: all.name });
    const nsfwModel = open.records.find((record) => record.version?.modelId === 11821);
    expect(nsfwModel?.images.some((image) => image.nsfwLevel > 1)).toBe(true);
  });
});

describe('media helpers', () => {
  it('rewrites CDN URLs to a rendition and leaves other URLs alone', () => {
    const url = 'https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/955147b8-8cd1-48b2-b28e-8da508acfab6/original=true/77879909.jpeg';
    expect(cdnRendition(url, { width: 1000 })).toBe(url.replace('original=true', 'width=1200'));
    expect(cdnRendition(url, { width: 450, still: true })).toBe(url.replace('original=true', 'width=450,anim=false,transcode=true'));
    expect(cdnRendition('https://example.com/a.jpeg', { width: 450 })).toBe('https://example.com/a.jpeg');
  });

  it('tells complete files from cut ones', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    expect(isCompleteMedia(jpeg, '.jpeg')).toBe(true);
    expect(isCompleteMedia(jpeg.subarray(0, 6), '.jpeg')).toBe(false);
  });
});
