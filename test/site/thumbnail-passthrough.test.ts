/**
 * A preview already the size of a thumbnail (a still JPEG or WebP no wider than 560, light
 * enough) is its own thumbnail: served byte for byte, not decoded and encoded again. Wider ones,
 * and ones the page would lay out wrong as they are (EXIF-rotated) or too heavy for a card
 * (PNG, a JPEG of quality 100), are still made into a WebP.
 */
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { serveSiteAsset, writeSiteAssets } from '../../src/integration/site/assets.ts';
import { thumbnailPath, THUMBNAIL_WIDTH } from '../../src/integration/site/thumbnails.ts';
import { writeFileAtomic } from '../../src/integration/engine/util/atomic-write.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function workdir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cs-thumbs-as-is-'));
  dirs.push(dir);
  return dir;
}

function picture(width: number, height: number, colour: { r: number; g: number; b: number }) {
  return sharp({ create: { width, height, channels: 3, background: colour } });
}

/** The previews most tests use: a 450-wide JPEG (its own thumbnail) and a 640-wide one (resized). */
async function smallAndWide(dir: string): Promise<{ small: string; wide: string }> {
  const small = path.join(dir, 'a.preview.jpeg');
  await writeFile(small, await picture(450, 658, { r: 40, g: 90, b: 200 }).jpeg({ quality: 80 }).toBuffer());
  const wide = path.join(dir, 'c.preview.jpeg');
  await writeFile(wide, await picture(640, 935, { r: 10, g: 150, b: 60 }).jpeg({ quality: 80 }).toBuffer());
  return { small, wide };
}

describe('thumbnails of previews already that small', () => {
  it('serves a 450-wide JPEG and WebP as they are (byte-identical in the cache and the site); a 640-wide one is resized', async () => {
    const dir = await workdir();
    const { small, wide } = await smallAndWide(dir);
    const smallWebp = path.join(dir, 'b.preview.webp');
    await writeFile(smallWebp, await picture(450, 658, { r: 90, g: 40, b: 20 }).webp({ quality: 80 }).toBuffer());
    const cache = path.join(dir, 'cache');

    for (const source of [small, smallWebp]) {
      const file = await thumbnailPath(source, cache);
      expect(await readFile(file)).toEqual(await readFile(source));
      // A hard link where the cache shares the previews' disk: no bytes spent.
      expect((await stat(file)).ino).toBe((await stat(source)).ino);
    }
    const resized = await sharp(await thumbnailPath(wide, cache)).metadata();
    expect([resized.format, resized.width, resized.height]).toEqual(['webp', THUMBNAIL_WIDTH, 818]);

    const site = path.join(dir, 'site');
    const assets = [
      { path: 'thumbs/a.webp', source: small, kind: 'thumbnail' as const },
      { path: 'thumbs/b.webp', source: smallWebp, kind: 'thumbnail' as const },
      { path: 'thumbs/c.webp', source: wide, kind: 'thumbnail' as const },
    ];
    expect((await writeSiteAssets(site, assets, cache)).files).toBe(3);
    expect(await readFile(path.join(site, 'thumbs', 'a.webp'))).toEqual(await readFile(small));
    expect(await readFile(path.join(site, 'thumbs', 'b.webp'))).toEqual(await readFile(smallWebp));
    expect((await sharp(path.join(site, 'thumbs', 'c.webp')).metadata()).width).toBe(THUMBNAIL_WIDTH);

    // `astro dev` names the type the bytes are, not the one the name says.
    const types: string[] = [];
    for (const asset of assets) {
      const response = Object.assign(new PassThrough(), {
        setHeader(name: string, value: string) {
          if (name === 'Content-Type') types.push(value);
        },
      });
      response.resume();
      await serveSiteAsset(asset, cache, response as unknown as ServerResponse);
    }
    expect(types).toEqual(['image/jpeg', 'image/webp', 'image/webp']);
  });

  it('makes its cache folders again when they were removed while the process runs (astro dev, a cache cleared by hand)', async () => {
    const dir = await workdir();
    const { small, wide } = await smallAndWide(dir);
    const cache = path.join(dir, 'cache');
    const linked = await thumbnailPath(small, cache);
    const encoded = await thumbnailPath(wide, cache);
    await rm(cache, { recursive: true });
    expect(await thumbnailPath(small, cache)).toBe(linked);
    expect(await readFile(linked)).toEqual(await readFile(small));
    expect(await thumbnailPath(wide, cache)).toBe(encoded);
    expect((await sharp(encoded).metadata()).width).toBe(THUMBNAIL_WIDTH);
  });

  it('a changed preview replaces the served copy', async () => {
    const dir = await workdir();
    const source = path.join(dir, 'a.preview.jpeg');
    const before = await picture(450, 600, { r: 200, g: 40, b: 40 }).jpeg({ quality: 80 }).toBuffer();
    await writeFile(source, before);
    await utimes(source, new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'));
    const cache = path.join(dir, 'cache');
    const site = path.join(dir, 'site');
    const assets = [{ path: 'thumbs/a.webp', source, kind: 'thumbnail' as const }];
    await writeSiteAssets(site, assets, cache);
    expect(await readFile(path.join(site, 'thumbs', 'a.webp'))).toEqual(before);

    // As the engine saves a preview again: a new file renamed over the old one.
    const after = await picture(450, 600, { r: 40, g: 200, b: 40 }).jpeg({ quality: 80 }).toBuffer();
    await writeFileAtomic(source, after);
    await writeSiteAssets(site, assets, cache);
    expect(await readFile(path.join(site, 'thumbs', 'a.webp'))).toEqual(after);
    expect(await readFile(await thumbnailPath(source, cache))).toEqual(after);
  });

  it('re-encodes a small preview that would show wrong or weigh too much as it is: EXIF-rotated, PNG, quality 100', async () => {
    const dir = await workdir();
    const cases: [string, Buffer, { width: number; height: number }][] = [
      // Stored 600 × 450 and turned upright by its EXIF orientation: the thumbnail is 450 × 600.
      ['rotated.jpeg', await picture(600, 450, { r: 40, g: 90, b: 200 }).withMetadata({ orientation: 6 }).jpeg({ quality: 80 }).toBuffer(), { width: 450, height: 600 }],
      ['flat.png', await picture(450, 600, { r: 40, g: 90, b: 200 }).png().toBuffer(), { width: 450, height: 600 }],
      ['heavy.jpeg', await sharp({ create: { width: 300, height: 400, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 90 } } }).jpeg({ quality: 100 }).toBuffer(), { width: 300, height: 400 }],
    ];
    const cache = path.join(dir, 'cache');
    for (const [name, bytes, size] of cases) {
      const source = path.join(dir, name);
      await writeFile(source, bytes);
      const made = await thumbnailPath(source, cache);
      const meta = await sharp(made).metadata();
      expect({ name, format: meta.format, width: meta.width, height: meta.height }).toEqual({ name, format: 'webp', ...size });
      expect((await stat(made)).size).toBeLessThan(bytes.length);
    }
  });
});
