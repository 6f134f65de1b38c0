import { readFileSync } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { slugify } from '../src/integration/engine/records/id.ts';
import { ModelRecordSchema } from '../src/integration/engine/records/schema.ts';
import { joinSiteRecord, pruneSiteDetails, readSiteDetails, splitForSite, writeDetailsFiles } from '../src/integration/site/details.ts';
import { hasNewerVersion, libraryContext, modelView } from '../src/integration/site/view.ts';

const record = ModelRecordSchema.parse({
  id: 'x-abc',
  file: { path: '/m/x.safetensors', inputPathId: 'loras', inputType: 'LORA', relativePath: 'x.safetensors', folder: '', name: 'x.safetensors', stem: 'x', ext: '.safetensors', size: 10, mtimeMs: 1 },
  hashes: { SHA256: 'AA' },
  civitai: { status: 'identified' },
  version: {
    id: 7,
    modelId: 3,
    createdAt: '2024-01-01T00:00:00Z',
    description: '<p>version notes</p>',
    trainedWords: ['xword'],
    files: [
      { name: 'pruned.safetensors', primary: true, hashes: { SHA256: 'BB' } },
      { name: 'x.safetensors', hashes: { SHA256: 'aa' } },
    ],
    images: [{ url: 'https://image.civitai.com/a/b/c.jpeg', meta: { prompt: 'long' } }],
  },
  model: {
    id: 3,
    name: 'X',
    description: '<p>about X</p>',
    tags: ['style'],
    modelVersions: [
      { id: 8, name: 'v2', createdAt: '2024-02-01T00:00:00Z', trainedWords: ['a'], stats: { downloadCount: 5 } },
      { id: 7, name: 'v1', createdAt: '2024-01-01T00:00:00Z', trainedWords: ['xword'] },
    ],
  },
  images: [
    { path: '/m/x.preview1.jpeg', url: 'https://image.civitai.com/a/b/c.jpeg', type: 'image', nsfwLevel: 1, meta: { prompt: 'a cat', seed: 1 } },
    { path: '/m/x.preview2.jpeg', url: 'https://image.civitai.com/a/b/d.jpeg', type: 'image', nsfwLevel: 1 },
  ],
  training: { tags: [{ tag: 'cat', count: 3 }] },
});

const settings = { domains: { sfw: 'civitai.com', nsfw: 'civitai.red' }, nsfwThreshold: 4 };

describe('splitForSite / joinSiteRecord', () => {
  it("keeps this file's entry and the local previews in the entry, drops the remote image list", () => {
    const { entry } = splitForSite(record);
    expect(entry.version?.files?.map((file) => file.name)).toEqual(['x.safetensors']);
    expect(entry.version?.images).toBeUndefined();
    expect(entry.images.map((image) => image.path)).toEqual(record.images.map((image) => image.path));
    expect(ModelRecordSchema.safeParse(entry).success).toBe(true);
    const other = splitForSite({ ...record, hashes: { SHA256: 'CC' } }).entry;
    expect(other.version?.files?.map((file) => file.name)).toEqual(['pruned.safetensors']);
  });

  it('moves descriptions, sibling versions, image parameters and training to the details', () => {
    const { entry, details } = splitForSite(record);
    expect(entry.model?.description).toBeUndefined();
    expect(entry.version?.description).toBeUndefined();
    expect(entry.images.some((image) => image.meta)).toBe(false);
    expect(entry.training).toBeUndefined();
    expect(entry.model?.modelVersions).toEqual([
      { id: 8, createdAt: '2024-02-01T00:00:00Z' },
      { id: 7, createdAt: '2024-01-01T00:00:00Z' },
    ]);
    expect(details).toMatchObject({
      descriptionHtml: '<p>about X</p>',
      versionNotesHtml: '<p>version notes</p>',
      imageMeta: [{ prompt: 'a cat', seed: 1 }, null],
      training: { tags: [{ tag: 'cat', count: 3 }] },
    });
    expect(details.modelVersions?.[0]).toMatchObject({ name: 'v2', stats: { downloadCount: 5 } });
  });

  it('the gallery sees the same from the entry as from the whole record', () => {
    const { entry } = splitForSite(record);
    expect(modelView(entry, settings)).toEqual(modelView(record, settings));
    expect(hasNewerVersion(entry, libraryContext([entry]), settings)).toBe(true);
    expect(hasNewerVersion(entry, libraryContext([entry]), settings)).toBe(hasNewerVersion(record, libraryContext([record]), settings));
  });

  it('joining gives back the record (apart from what the site never shows, and the descriptions: the page shows them sanitised)', () => {
    const { entry, details } = splitForSite(record);
    const joined = joinSiteRecord(entry, details);
    const { description: _description, ...model } = record.model ?? { id: 0 };
    expect(joined.model).toEqual(model);
    expect(joined.version?.description).toBeUndefined();
    expect(joined.images).toEqual(record.images);
    expect(joined.training).toEqual(record.training);
    // Without details a page still renders from the entry.
    expect(joinSiteRecord(entry, undefined)).toBe(entry);
  });

  it('leaves records without CivitAI data as they are', () => {
    const bare = { ...record, version: undefined, model: undefined, images: [], training: undefined };
    const { entry, details } = splitForSite(bare);
    expect(entry).toEqual(bare);
    expect(details).toEqual({});
  });
});

describe('site details files', () => {
  it('are written atomically, left alone when unchanged, read back, and removed with their record', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-details-'));
    try {
      const { details } = splitForSite(record);
      await writeDetailsFiles(dir, [{ id: 'x-abc', details }, { id: 'y-def', details: {} }]);
      expect(readSiteDetails(dir, 'x-abc')).toEqual(details);
      const before = await stat(path.join(dir, 'x-abc.json'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeDetailsFiles(dir, [{ id: 'x-abc', details }]);
      await pruneSiteDetails(dir, ['x-abc']);
      expect((await stat(path.join(dir, 'x-abc.json'))).mtimeMs).toBe(before.mtimeMs);
      expect(await readdir(dir)).toEqual(['x-abc.json']);
      // A damaged file reads as "no details", never as an error that stops the build.
      await writeFile(path.join(dir, 'x-abc.json'), '{"modelDescription": ');
      expect(readSiteDetails(dir, 'x-abc')).toBeUndefined();
      expect(readSiteDetails(dir, 'missing')).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('writeDetailsFiles in a first build', () => {
  it('writes each file whole (temp, then rename) and fsyncs the folder once, not each of the files', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-details-sync-'));
    const probe = await open(dir, 'r');
    const handleClass = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
    await probe.close();
    const sync = vi.spyOn(handleClass, 'sync');
    try {
      const { details } = splitForSite(record);
      const ids = Array.from({ length: 40 }, (_, index) => `model-${index}`);
      await writeDetailsFiles(dir, ids.map((id) => ({ id, details })));
      expect((await readdir(dir)).sort()).toEqual(ids.map((id) => `${id}.json`).sort());
      for (const id of ids) expect(readSiteDetails(dir, id)).toEqual(details);
      expect(sync).toHaveBeenCalledTimes(1);
    } finally {
      sync.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('slugify in the browser and in the engine', () => {
  // The gallery script is a classic script (no imports), so it keeps its own copy of slugify.
  const sandbox: { CSCore?: { slugify(value: string): string } } = {};
  runInNewContext(readFileSync(new URL('../src/components/client/gallery-core.js', import.meta.url), 'utf8'), sandbox);
  const browserSlugify = sandbox.CSCore?.slugify;

  const names = [
    '',
    '   ',
    '---',
    '!!!',
    'model',
    'Model.v1.5',
    'Café ñ 日本',
    '日本',
    'Ärger über Öl',
    'straße',
    'ﬁne ＦＵＬＬ ｗｉｄｔｈ',
    'Ελληνικά',
    'emoji 😀 lora 🎨',
    'Tom & Jerry\'s "cartoon" style',
    '  [SDXL] (v2) {best}__final--  ',
    'a/b\\c:d*e?f<g>h|i',
    'x'.repeat(59) + '-tail',
    'y'.repeat(60) + 'z',
    'word '.repeat(30),
    'é'.repeat(80),
  ];

  it('loads from the gallery script', () => {
    expect(typeof browserSlugify).toBe('function');
  });

  it.each(names)('agrees on %j', (name) => {
    expect(browserSlugify?.(name)).toBe(slugify(name));
  });

  it('gives readable, bounded slugs', () => {
    expect(slugify('')).toBe('model');
    expect(slugify('!!!')).toBe('model');
    expect(slugify('Ärger über Öl')).toBe('arger-uber-ol');
    expect(slugify('  [SDXL] (v2) {best}__final--  ')).toBe('sdxl-v2-best-final');
    expect(slugify('x'.repeat(59) + '-tail')).toBe('x'.repeat(59));
    for (const name of names) expect(slugify(name)).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/);
  });
});
