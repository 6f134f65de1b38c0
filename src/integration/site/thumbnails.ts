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
 * A preview that already is a thumbnail (a still JPEG or WebP no wider than one, downloaded at
 * `images.width` 450 say) is not encoded again: a second lossy pass would only blur it, and the
 * encode was most of a cold build. The cache entry is then the file itself (a hard link, else a
 * copy), served under the same `.webp` name: browsers pick an image's decoder from its bytes, not
 * from its name or Content-Type (the MIME Sniffing standard's image rules), so a JPEG shows there.
 * A few are encoded at once (site/assets.ts asks for all of them together, while Astro renders
 * the pages, so libvips' threads and Astro's one JavaScript thread share the cores).
 */
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { stillGeometry } from '../engine/media/sniff.ts';
import { quickStat } from '../engine/scan/stat-many.ts';
import { THUMBNAIL_WIDTH } from './thumbnail-size.ts';

export { THUMBNAIL_WIDTH, thumbnailSize } from './thumbnail-size.ts';

/** Change when the recipe changes: old cache entries are then never read again. */
const RECIPE = `site-v1:w${THUMBNAIL_WIDTH}:q74:webp`;

let active = 0;
const queue: (() => void)[] = [];
const cores = Math.min(8, availableParallelism());
const ALONE = Math.max(2, cores);
// Beside Astro's renderer (one JavaScript thread), encodes leave it a core: on two cores two
// encodes beside it made the rendering three times slower and the whole no faster.
const BESIDE_RENDERING = Math.max(1, cores - 1);
let limit = ALONE;

/** While Astro renders, fewer encodes at once (site/assets.ts prepareThumbnails); after, all cores. */
export function thumbnailsBesideRendering(beside: boolean): void {
  limit = beside ? BESIDE_RENDERING : ALONE;
  for (let free = limit - active; free > 0 && queue.length > 0; free -= 1) queue.shift()?.();
}

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
  active += 1;
  try {
    return await work();
  } finally {
    active -= 1;
    if (active < limit) queue.shift()?.();
  }
}

/** Thumbnails being made: a card and its page's first image share a source, encoded once. */
const making = new Map<string, Promise<string>>();

/** The cached thumbnail file of `source` (made now if it is not cached yet). */
export function thumbnailPath(source: string, cacheDir: string): Promise<string> {
  const key = `${path.resolve(cacheDir)}\0${path.resolve(source)}`;
  let pending = making.get(key);
  if (!pending) {
    pending = withSlot(() => makeThumbnail(source, cacheDir)).finally(() => making.delete(key));
    making.set(key, pending);
  }
  return pending;
}

async function makeThumbnail(source: string, cacheDir: string): Promise<string> {
  // Blocking while stats are fast (stat-many.ts): thousands of them, most of them answered by
  // the page cache, and the cached file's is mostly "not there" (no Error made for it).
  const info = (await quickStat(source)) ?? (await stat(source));
  const key = createHash('sha256').update(`${RECIPE}\0${path.resolve(source)}\0${info.size}\0${info.mtimeMs}`).digest('hex');
  const file = path.join(cacheDir, key.slice(0, 2), `${key.slice(2, 34)}.webp`);
  if (await quickStat(file)) return file;
  const folder = path.dirname(file);
  if (await servedAsIs(source, info.size)) {
    // A hard link appears whole under its name: no temporary name to rename. Already there: a
    // build beside this one made the same entry (the name is the source's path, size and mtime).
    try {
      await intoFolder(folder, () => link(source, file));
      return file;
    } catch (error) {
      if (isMissing(error)) throw error;
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return file;
    }
    // The cache on another disk than the previews, or a filesystem without hard links.
    const partial = temporaryName(file);
    try {
      await copyFile(source, partial);
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return file;
  }
  const bytes = await sharp(source, { animated: false, failOn: 'none' })
    .rotate()
    .resize({ width: THUMBNAIL_WIDTH, withoutEnlargement: true })
    .webp({ quality: 74, effort: 2 })
    .toBuffer();
  const partial = temporaryName(file);
  try {
    await intoFolder(folder, () => writeFile(partial, bytes));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return file;
}

/**
 * `write()`, which makes a file in `folder`; when the folder is not there (its first thumbnail,
 * or a cache cleared while `astro dev` runs), the folder is made and `write` tried once more. A
 * mkdir for each of thousands of thumbnails was most of their file operations.
 */
async function intoFolder(folder: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (!isMissing(error) || (await quickStat(folder))) throw error;
    await mkdir(folder, { recursive: true });
    await write();
  }
}

const temporaryName = (file: string) => `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;

/** Enough for the headers before a JPEG's frame header (EXIF, ICC profile) as an encoder writes them. */
const HEADER_BYTES = 64 * 1024;
/**
 * Above this a preview is re-encoded even at thumbnail size: a JPEG of quality 80 takes about
 * 1.5 bits a pixel, one of quality 100 (or a lossless WebP) several times that, too heavy for
 * one of thousands of cards.
 */
const MAX_BITS_PER_PIXEL = 4;

async function servedAsIs(source: string, size: number): Promise<boolean> {
  const handle = await open(source, 'r');
  let header: Buffer;
  try {
    // Only the bytes read are looked at: no zeroed buffer needed.
    const { buffer, bytesRead } = await handle.read(Buffer.allocUnsafe(Math.min(size, HEADER_BYTES)), 0, Math.min(size, HEADER_BYTES), 0);
    header = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const geometry = stillGeometry(header);
  return geometry !== undefined && geometry.width <= THUMBNAIL_WIDTH && (size * 8) / (geometry.width * geometry.height) <= MAX_BITS_PER_PIXEL;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
