/**
 * The write path the preview and sidecar stages share (util/atomic-write.ts), as a first run
 * of a large library drives it: many files at once inside a write batch (no fsync per file),
 * a folder created once per batch, sizes compared before any bytes are read back, temp names
 * drawn from a pool; and the WebUI preview linked without reading either file when nothing is
 * there yet. Each of these shortcuts must keep what the slow path guaranteed.
 */
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { writeWebuiPreview } from '../../src/integration/engine/sidecars/compat.ts';
import { linkTempPath, withWriteBatch, writeFileAtomic } from '../../src/integration/engine/util/atomic-write.ts';
import { mapLimit } from '../../src/integration/engine/util/map-limit.ts';
import { TMP_BASE } from './helpers.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(TMP_BASE, 'cs-batched-writes-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('writeFileAtomic in a write batch', () => {
  it('writes a folder removed since its last write of the batch again, instead of failing', async () => {
    const folder = path.join(root, 'removed', 'models');
    await withWriteBatch(async () => {
      expect(await writeFileAtomic(path.join(folder, 'a.json'), '{"a":1}\n')).toBe('written');
      await rm(path.join(root, 'removed'), { recursive: true });
      expect(await writeFileAtomic(path.join(folder, 'b.json'), '{"b":2}\n')).toBe('written');
    });
    expect(await readFile(path.join(folder, 'b.json'), 'utf8')).toBe('{"b":2}\n');
    expect(await readdir(folder)).toEqual(['b.json']);
  });

  it('1,500 files at once: every one whole, none left behind (a temp name drawn twice fails its write)', async () => {
    const folder = path.join(root, 'many');
    const names = Array.from({ length: 1500 }, (_, index) => `model-${index}.preview1.jpeg`);
    await withWriteBatch(() => mapLimit(names, 64, async (name) => void (await writeFileAtomic(path.join(folder, name), Buffer.from(`bytes of ${name}`)))));
    expect((await readdir(folder)).sort()).toEqual([...names].sort());
    for (const name of names) expect(await readFile(path.join(folder, name), 'utf8')).toBe(`bytes of ${name}`);
  });

  it('leaves identical bytes alone, and replaces bytes of the same size or another size', async () => {
    const file = path.join(root, 'same', 'model.civitai.info');
    await writeFileAtomic(file, '{"id":1}\n');
    const before = await stat(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await withWriteBatch(async () => {
      expect(await writeFileAtomic(file, '{"id":1}\n')).toBe('unchanged');
      expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
      expect(await writeFileAtomic(file, '{"id":2}\n')).toBe('written');
      expect(await readFile(file, 'utf8')).toBe('{"id":2}\n');
      expect(await writeFileAtomic(file, '{"id":20}\n')).toBe('written');
      expect(await readFile(file, 'utf8')).toBe('{"id":20}\n');
    });
  });
});

describe('writeWebuiPreview', () => {
  const record = (source: string) => ({ images: [{ url: 'https://image.civitai.com/x/y/width=96/1.jpeg', type: 'image', nsfwLevel: 1, path: source }] }) as unknown as ModelRecord;

  it('links the first preview where nothing is, keeps a file of the user, replaces its own, leaves identical bytes alone', async () => {
    const folder = path.join(root, 'webui');
    await mkdir(folder, { recursive: true });
    const source = path.join(folder, 'm.preview1.jpeg');
    await writeFile(source, 'JPEG one');
    const target = (ext: string) => path.join(folder, `m.preview${ext}`);

    expect(await writeWebuiPreview(record(source), target, undefined)).toEqual({ path: target('.jpeg'), outcome: 'written' });
    expect((await stat(target('.jpeg'))).ino).toBe((await stat(source)).ino);
    expect(await writeWebuiPreview(record(source), target, target('.jpeg'))).toEqual({ path: target('.jpeg'), outcome: 'unchanged' });

    // The user's own picture, of the same size as ours and of another: never replaced unless ours.
    for (const bytes of ['JPEG two', 'a picture of the user']) {
      await rm(target('.jpeg'));
      await writeFile(target('.jpeg'), bytes);
      expect(await writeWebuiPreview(record(source), target, undefined)).toEqual({ outcome: 'kept-user-file' });
      expect(await readFile(target('.jpeg'), 'utf8')).toBe(bytes);
    }
    expect(await writeWebuiPreview(record(source), target, target('.jpeg'))).toEqual({ path: target('.jpeg'), outcome: 'written' });
    expect(await readFile(target('.jpeg'), 'utf8')).toBe('JPEG one');

    // A leftover link of a crashed process with our pid is replaced, not an error.
    await rm(target('.jpeg'));
    await link(source, linkTempPath(target('.jpeg')));
    expect(await writeWebuiPreview(record(source), target, undefined)).toEqual({ path: target('.jpeg'), outcome: 'written' });
    expect((await readdir(folder)).sort()).toEqual(['m.preview.jpeg', 'm.preview1.jpeg']);
  });

  it('says the source is missing (empty or gone), and fails on a source it cannot read', async () => {
    const folder = path.join(root, 'webui-missing');
    await mkdir(folder, { recursive: true });
    const target = (ext: string) => path.join(folder, `m.preview${ext}`);
    expect(await writeWebuiPreview(record(path.join(folder, 'gone.jpeg')), target, undefined)).toEqual({ outcome: 'source-missing' });
    await writeFile(path.join(folder, 'empty.jpeg'), '');
    expect(await writeWebuiPreview(record(path.join(folder, 'empty.jpeg')), target, undefined)).toEqual({ outcome: 'source-missing' });
    await mkdir(path.join(folder, 'folder.jpeg'));
    await expect(writeWebuiPreview(record(path.join(folder, 'folder.jpeg')), target, undefined)).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await readdir(folder)).not.toContain('m.preview.jpeg');
  });
});
