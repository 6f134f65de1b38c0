/**
 * The site's resized images: gallery card thumbnails at a stable address (`thumbs/<page id>.webp`,
 * so the search index never carries per-model image URLs) and the other images of a model page
 * (`models/<id>/image-<n>.webp`). One size serves both.
 *
 * Not astro:assets: its file names are content hashes (the index would have to carry them), and
 * every image it handles also goes through the bundler, which at 10,000 models costs gigabytes.
 *
 * Made with sharp (as astro:assets does) and kept in a cache folder between builds, keyed by
 * source path, size and modification time: a rebuild re-encodes only new or changed previews.
 * A few are encoded at once (site/assets.ts asks for all of them together).
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

/** Change when the recipe changes: old cache entries are then never read again. */
const RECIPE = 'site-v1:w560:q74:webp';
export const THUMBNAIL_WIDTH = 560;

let active = 0;
const queue: (() => void)[] = [];
const limit = Math.max(2, Math.min(8, availableParallelism()));

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
  active += 1;
  try {
    return await work();
  } finally {
    active -= 1;
    queue.shift()?.();
  }
}

/** The cached thumbnail file of `source` (made now if it is not cached yet). */
export function thumbnailPath(source: string, cacheDir: string): Promise<string> {
  return withSlot(() => makeThumbnail(source, cacheDir));
}

/** Width and height of a thumbnail of an image of `width` × `height`. */
export function thumbnailSize(width: number | undefined, height: number | undefined): { width: number; height: number } {
  if (!width || !height) return { width: THUMBNAIL_WIDTH, height: Math.round((THUMBNAIL_WIDTH * 4) / 3) };
  const scale = Math.min(1, THUMBNAIL_WIDTH / width);
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

async function makeThumbnail(source: string, cacheDir: string): Promise<string> {
  const info = await stat(source);
  const key = createHash('sha256').update(`${RECIPE}\0${path.resolve(source)}\0${info.size}\0${info.mtimeMs}`).digest('hex');
  const file = path.join(cacheDir, key.slice(0, 2), `${key.slice(2, 34)}.webp`);
  try {
    await stat(file);
    return file;
  } catch {
    // not cached yet
  }
  const bytes = await sharp(source, { animated: false, failOn: 'none' })
    .rotate()
    .resize({ width: THUMBNAIL_WIDTH, withoutEnlargement: true })
    .webp({ quality: 74, effort: 2 })
    .toBuffer();
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(partial, bytes);
  await rename(partial, file);
  return file;
}
