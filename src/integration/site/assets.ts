/**
 * The gallery's image files: each model page's previews (`models/<id>/preview-<n>.<ext>`, the
 * file as downloaded), their resized pictures (`models/<id>/image-<n>.webp`) and the card
 * thumbnails (`thumbs/<id>.webp`; a JPEG or WebP preview already that small is served as it is:
 * site/thumbnails.ts).
 *
 * They are plain files put into the built site after Astro has written the pages, not endpoint
 * routes: Astro empties its output folder on every build and would run an endpoint per image
 * again (reading every preview, 2.5 per model), while a hard link costs one system call and no
 * bytes. Thumbnails come from the cache of site/thumbnails.ts, so only new or changed previews
 * are encoded. In `astro dev` the same list answers requests (`serveSiteAsset`).
 */
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, open, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { sniffMediaType } from '../engine/media/sniff.ts';
import { mapLimit } from '../engine/util/map-limit.ts';
import type { SiteSettings } from './settings.ts';
import type { SiteEntry } from './sync.ts';
import { thumbnailPath, thumbnailsBesideRendering } from './thumbnails.ts';
import { coverImage, pageImages, pictureOf } from './view.ts';

export interface SiteAsset {
  /** Below the gallery's root, with `/`. */
  path: string;
  source: string;
  /** `copy`: the file itself; `thumbnail`: a resized WebP of it (or itself, when already that small). */
  kind: 'copy' | 'thumbnail';
}

export function siteAssets(entries: readonly SiteEntry[], settings: Pick<SiteSettings, 'sfwOnly' | 'modelPages'>): SiteAsset[] {
  const assets: SiteAsset[] = [];
  for (const { id, data } of entries) {
    const cover = coverImage(data, settings);
    const coverPicture = cover ? pictureOf(cover) : undefined;
    if (coverPicture) assets.push({ path: `thumbs/${id}.webp`, source: coverPicture, kind: 'thumbnail' });
    if (!settings.modelPages) continue;
    for (const shot of pageImages(data, settings)) {
      assets.push({ path: `models/${id}/${shot.full}`, source: shot.fullSource, kind: 'copy' });
      if (shot.picture && shot.thumb === `image-${shot.n}.webp`) {
        assets.push({ path: `models/${id}/${shot.thumb}`, source: shot.picture, kind: 'thumbnail' });
      }
    }
  }
  return assets;
}

export interface AssetsResult {
  files: number;
  /** Hard links are the norm; a copy where the output is on another disk. */
  copied: number;
  /** Sources that are gone or unreadable (e.g. a preview deleted since the scan). */
  missing: string[];
}

/**
 * Starts the thumbnails of `assets` (each source once, a core left to Astro's renderer) and
 * settles when all have: called as soon as the engine's run is done, so they are encoded while
 * Astro renders the pages, and
 * `writeSiteAssets` then finds them made or joins the ones still under way. Failures are left for
 * `writeSiteAssets`, which tries again and reports them.
 */
export async function prepareThumbnails(assets: readonly SiteAsset[], thumbCacheDir: string): Promise<void> {
  const sources = new Set(assets.filter((asset) => asset.kind === 'thumbnail').map((asset) => asset.source));
  thumbnailsBesideRendering(true);
  await Promise.allSettled([...sources].map((source) => thumbnailPath(source, thumbCacheDir)));
}

/** Puts every asset below `galleryDir`; a missing source is reported, any other failure throws. */
export async function writeSiteAssets(galleryDir: string, assets: readonly SiteAsset[], thumbCacheDir: string): Promise<AssetsResult> {
  // The pages are rendered: what is left of the thumbnails gets every core.
  thumbnailsBesideRendering(false);
  const result: AssetsResult = { files: 0, copied: 0, missing: [] };
  const folders = new Set(assets.map((asset) => path.dirname(path.join(galleryDir, asset.path))));
  await mapLimit([...folders], 16, async (folder) => {
    await mkdir(folder, { recursive: true });
  });
  await mapLimit(assets, 32, async (asset) => {
    let from: string;
    try {
      from = asset.kind === 'thumbnail' ? await thumbnailPath(asset.source, thumbCacheDir) : asset.source;
    } catch (error) {
      if (isMissing(error) || asset.kind === 'thumbnail') {
        result.missing.push(asset.source);
        return;
      }
      throw error;
    }
    const to = path.join(galleryDir, asset.path);
    try {
      // Astro empties the output folder first, so the name is free but for an output kept by
      // the host (emptyOutDir off): removed only then, not before every link.
      await link(from, to).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
        await rm(to, { force: true });
        await link(from, to);
      });
    } catch (error) {
      if (isMissing(error)) {
        result.missing.push(asset.source);
        return;
      }
      // Another filesystem, or one without hard links: a copy (a clone where the disk can).
      await rm(to, { force: true });
      await copyFile(from, to);
      result.copied += 1;
    }
    result.files += 1;
  });
  return result;
}

/** Answers a dev-server request for one asset. */
export async function serveSiteAsset(asset: SiteAsset, thumbCacheDir: string, response: ServerResponse): Promise<void> {
  const file = asset.kind === 'thumbnail' ? await thumbnailPath(asset.source, thumbCacheDir) : asset.source;
  // A thumbnail-sized preview is its own thumbnail (site/thumbnails.ts): a JPEG under the name.
  response.setHeader('Content-Type', asset.kind === 'thumbnail' ? await thumbnailType(file) : assetType(asset.path));
  response.setHeader('Cache-Control', 'no-cache');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('error', reject).pipe(response).on('finish', resolve).on('error', reject);
  });
}

async function thumbnailType(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(16), 0, 16, 0);
    return sniffMediaType(buffer.subarray(0, bytesRead))?.ext === '.jpeg' ? 'image/jpeg' : 'image/webp';
  } finally {
    await handle.close();
  }
}

/** Content type of a site asset by its name (previews keep their downloaded extension). */
export function assetType(name: string): string {
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.gif': 'image/gif',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
};

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
