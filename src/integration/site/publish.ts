/**
 * `output.metadata.html.gallery_path`: the built site is also written where the seed wrote its
 * gallery, so a bookmark keeps working.
 *
 * - A path ending in `.html`/`.htm` (the seed's form, default `gallery.html`): the site goes
 *   into `<name>-site/` beside it and the file becomes a small page that opens the site (keeping
 *   the `#…` of a bookmarked gallery state).
 * - Any other path: a folder that receives the site itself (`<folder>/index.html`).
 *
 * Only a folder that is new, empty or marked as ours (`.civitscraper-site`) is changed; files
 * that are gone from the build are removed from it, unchanged files are not rewritten. Every file
 * is copied to a temporary name and renamed into place, so a browser (or a crash) never finds
 * half a page.
 */
import { copyFile, mkdir, readdir, readFile, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { linkTempPath, writeFileAtomic } from '../engine/util/atomic-write.ts';

export const SITE_MARKER = '.civitscraper-site';
const PAGE_MARKER = '<!-- civitscraper: opens the gallery site -->';

export interface PublishResult {
  /** Folder holding the copy. */
  siteDir: string;
  /** What to open (the bookmark). */
  entry: string;
  copied: number;
  removed: number;
}

export class PublishError extends Error {
  override name = 'PublishError';
}

export function publishTargets(galleryPath: string): { siteDir: string; entry: string; redirect?: string } {
  const resolved = path.resolve(galleryPath);
  if (/\.html?$/i.test(resolved)) {
    const stem = path.basename(resolved).replace(/\.html?$/i, '');
    return { siteDir: path.join(path.dirname(resolved), `${stem}-site`), entry: resolved, redirect: resolved };
  }
  return { siteDir: resolved, entry: path.join(resolved, 'index.html') };
}

export async function publishSite(outDir: string, galleryPath: string): Promise<PublishResult> {
  const { siteDir, entry, redirect } = publishTargets(galleryPath);
  if (path.resolve(siteDir) === path.resolve(outDir)) return { siteDir, entry, copied: 0, removed: 0 };
  await assertOurs(siteDir);
  await mkdir(siteDir, { recursive: true });
  await writeFileAtomic(path.join(siteDir, SITE_MARKER), 'Written by CivitScraper (output.metadata.html.gallery_path); rewritten on every build.\n');
  const wanted = new Set<string>([SITE_MARKER]);
  let copied = 0;
  const walk = async (relative: string): Promise<void> => {
    for (const item of await readdir(path.join(outDir, relative), { withFileTypes: true })) {
      const rel = path.join(relative, item.name);
      if (item.isDirectory()) {
        await mkdir(path.join(siteDir, rel), { recursive: true });
        await walk(rel);
        continue;
      }
      wanted.add(rel);
      const from = path.join(outDir, rel);
      const to = path.join(siteDir, rel);
      const source = await stat(from);
      const existing = await stat(to).catch(() => undefined);
      if (existing && existing.size === source.size && Math.abs(existing.mtimeMs - source.mtimeMs) < 2) continue;
      await copyAtomic(from, to, source);
      copied += 1;
    }
  };
  await walk('');
  const removed = await prune(siteDir, '', wanted);
  if (redirect) {
    const existing = await readFile(redirect, 'utf8').catch(() => undefined);
    const target = `${path.basename(siteDir)}/index.html`;
    const page = redirectPage(target);
    if (existing !== page) await writeFileAtomic(redirect, page);
  }
  return { siteDir, entry, copied, removed };
}

/** The copy gets the source's mtime (the next build skips it while unchanged), then its name. */
async function copyAtomic(from: string, to: string, source: { atime: Date; mtime: Date }): Promise<void> {
  const temporary = linkTempPath(to);
  try {
    await copyFile(from, temporary);
    await utimes(temporary, source.atime, source.mtime);
    await rename(temporary, to);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function assertOurs(siteDir: string): Promise<void> {
  const entries = await readdir(siteDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  if (entries.length === 0 || entries.includes(SITE_MARKER)) return;
  throw new PublishError(
    `output.metadata.html.gallery_path: ${siteDir} already holds other files; the site is only written to an empty folder or one it wrote before. Choose another path or empty that folder.`,
  );
}

async function prune(root: string, relative: string, wanted: Set<string>): Promise<number> {
  let removed = 0;
  for (const item of await readdir(path.join(root, relative), { withFileTypes: true })) {
    const rel = path.join(relative, item.name);
    if (item.isDirectory()) {
      removed += await prune(root, rel, wanted);
      await rmdir(path.join(root, rel)).catch(() => undefined);
    } else if (!wanted.has(rel)) {
      await rm(path.join(root, rel), { force: true });
      removed += 1;
    }
  }
  return removed;
}

/** The page at the seed's gallery path: opens the site, keeping a bookmarked `#state`. */
export function redirectPage(target: string): string {
  const url = encodeURI(target);
  return `<!doctype html>
${PAGE_MARKER}
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Model gallery</title>
    <noscript><meta http-equiv="refresh" content="0; url=${url}" /></noscript>
    <script>location.replace(${JSON.stringify(url)} + location.hash);</script>
  </head>
  <body>
    <p><a href="${url}">Open the model gallery</a></p>
  </body>
</html>
`;
}
