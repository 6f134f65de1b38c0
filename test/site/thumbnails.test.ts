/**
 * The site's thumbnails (site/thumbnails.ts): a card and its model page's first image share a
 * source, and the build asks for both while Astro renders (site/assets.ts prepareThumbnails),
 * so a source asked for again while it is being encoded is encoded once.
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { prepareThumbnails, writeSiteAssets } from '../../src/integration/site/assets.ts';
import { thumbnailPath } from '../../src/integration/site/thumbnails.ts';

async function picture(file: string): Promise<void> {
  await sharp({ create: { width: 800, height: 1000, channels: 3, background: { r: 40, g: 90, b: 200 } } }).jpeg().toFile(file);
}

describe('site thumbnails', () => {
  it('encodes a source once when it is asked for again while under way', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-thumbs-'));
    const source = path.join(dir, 'a.preview.jpeg');
    await picture(source);
    const cache = path.join(dir, 'cache');
    const first = thumbnailPath(source, cache);
    expect(thumbnailPath(source, cache)).toBe(first);
    const file = await first;
    expect((await sharp(file).metadata()).width).toBe(560);
    // Settled: a later request reads the cached file, it does not encode it again.
    const made = (await stat(file)).mtimeMs;
    expect(await thumbnailPath(source, cache)).toBe(file);
    expect((await stat(file)).mtimeMs).toBe(made);
  });

  it('prepares the thumbnails ahead, then writeSiteAssets puts them in place (again over old ones); a bad source is reported', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-thumbs-'));
    const source = path.join(dir, 'b.preview.jpeg');
    await picture(source);
    const cache = path.join(dir, 'cache');
    const assets = [
      { path: 'thumbs/b.webp', source, kind: 'thumbnail' as const },
      { path: 'models/b/image-1.webp', source, kind: 'thumbnail' as const },
      { path: 'thumbs/gone.webp', source: path.join(dir, 'gone.jpeg'), kind: 'thumbnail' as const },
    ];
    const preparing = prepareThumbnails(assets, cache);
    await expect(preparing).resolves.toBeUndefined();
    const shards = await readdir(cache);
    expect(shards).toHaveLength(1);
    expect(await readdir(path.join(cache, shards[0] as string))).toHaveLength(1);
    const site = path.join(dir, 'site');
    const result = await writeSiteAssets(site, assets, cache);
    expect(result.files).toBe(2);
    expect(result.missing).toEqual([path.join(dir, 'gone.jpeg')]);
    expect((await stat(path.join(site, 'thumbs', 'b.webp'))).ino).toBe((await stat(path.join(site, 'models', 'b', 'image-1.webp'))).ino);
    // Into an output that already has them (a host that keeps its output folder): replaced.
    await rm(path.join(site, 'thumbs', 'b.webp'));
    await writeFile(path.join(site, 'thumbs', 'b.webp'), 'stale');
    expect((await writeSiteAssets(site, assets, cache)).files).toBe(2);
    expect((await sharp(path.join(site, 'thumbs', 'b.webp')).metadata()).format).toBe('webp');
  });
});
