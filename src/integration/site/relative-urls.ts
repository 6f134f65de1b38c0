/**
 * Astro writes root-absolute URLs (`/_astro/x.css`, `/models/…`). Rewritten relative to each
 * page, the built site works when opened from disk (file://) and when served under any
 * sub-path, with no `base` to configure.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../engine/util/atomic-write.ts';

// A double-quoted value may contain `'` (file names do) and the other way round.
const URL_ATTRIBUTE = /(\s(?:src|href|poster|action|data-src|data-href|data-full|data-thumb|data-poster)=)(?:"\/(?!\/)([^"]*)"|'\/(?!\/)([^']*)')/g;
const SRCSET_ATTRIBUTE = /(\ssrcset=)(?:"([^"]*)"|'([^']*)')/g;
const CSS_URL = /url\((["']?)\/(?!\/)([^)"']*)\1\)/g;

/**
 * Rewrites one HTML document that lives `depth` folders below the site root. `base` is Astro's
 * own `base` (its URLs carry it; the files on disk do not).
 */
export function relativizeHtml(html: string, depth: number, base = '/'): string {
  const prefix = depth === 0 ? './' : '../'.repeat(depth);
  const local = localPath(base);
  return html
    .replace(URL_ATTRIBUTE, (_match, attribute: string, doubleQuoted?: string, singleQuoted?: string) =>
      doubleQuoted !== undefined ? `${attribute}"${prefix}${local(doubleQuoted)}"` : `${attribute}'${prefix}${local(singleQuoted ?? '')}'`,
    )
    .replace(SRCSET_ATTRIBUTE, (_match, attribute: string, doubleQuoted?: string, singleQuoted?: string) => {
      const rewritten = (doubleQuoted ?? singleQuoted ?? '')
        .split(',')
        .map((candidate) => candidate.replace(/^(\s*)\/(?!\/)(\S*)/, (_m, space: string, rest: string) => `${space}${prefix}${local(rest)}`))
        .join(',');
      return doubleQuoted !== undefined ? `${attribute}"${rewritten}"` : `${attribute}'${rewritten}'`;
    })
    .replace(CSS_URL, (_match, quote: string, rest: string) => `url(${quote}${prefix}${local(rest)}${quote})`);
}

/**
 * Set on `Astro.locals` by a page whose every URL is relative as it is written (the model pages:
 * `sourceRelative` below), so the middleware does not read and rewrite it: that pass (the body
 * as text, the expressions over all of it, a second Response) cost 0.3 ms a page, a few seconds
 * of a build of 10,000 models.
 */
export const RELATIVE_AT_SOURCE = Symbol.for('civitscraper.relativeAtSource');

/**
 * A root-absolute URL of this site (an asset's as Vite gives it, `/_astro/x.css`, with Astro's
 * `base`) as the page at `pathname` (Astro.url's, with the gallery's own prefix and Astro's base)
 * links to it in a build with relative URLs: what the middleware would make of it. `relative`
 * unset (dev, relativeUrls off): as it is.
 */
export function sourceRelative(url: string, pathname: string, relative: { base: string } | undefined): string {
  if (!relative || !url.startsWith('/') || url.startsWith('//')) return url;
  const depth = pageDepth(pathname, relative.base);
  return `${depth === 0 ? './' : '../'.repeat(depth)}${localPath(relative.base)(url.slice(1))}`;
}

/** A route pattern as the integration compares them: one leading `/`, none trailing. */
export function routeKey(pattern: string): string {
  return `/${pattern.replace(/^\/+|\/+$/g, '')}`;
}

/**
 * How many folders below the output folder a page's file lies (`build.format: 'directory'`:
 * `/models/x/` is `models/x/index.html`, 2). `pathname` carries Astro's `base`; the files do not.
 */
export function pageDepth(pathname: string, base = '/'): number {
  const stem = base.replace(/^\/+|\/+$/g, '');
  let segments = decodeURI(pathname).split('/').filter(Boolean);
  if (stem) {
    const baseSegments = stem.split('/');
    if (baseSegments.every((segment, i) => segments[i] === segment)) segments = segments.slice(baseSegments.length);
  }
  // A route whose path names a file (`/about.html`) is that file, not a folder with an index.
  if (segments.length > 0 && /\.html?$/i.test(segments[segments.length - 1] as string)) segments.pop();
  return segments.length;
}

/** CSS files under `_astro/` refer to their neighbours as `/_astro/x`. */
export function relativizeCss(css: string, depth: number, base = '/'): string {
  const prefix = depth === 0 ? './' : '../'.repeat(depth);
  const local = localPath(base);
  return css.replace(CSS_URL, (_match, quote: string, rest: string) => `url(${quote}${prefix}${local(rest)}${quote})`);
}

/** A root-absolute URL's path (without its leading `/`) as a path below the output folder. */
function localPath(base: string): (rest: string) => string {
  const stem = base.replace(/^\/+|\/+$/g, '');
  if (!stem) return (rest) => rest;
  return (rest) => (rest === stem ? '' : rest.startsWith(`${stem}/`) ? rest.slice(stem.length + 1) : rest);
}

const STYLESHEET = /<link\b[^>]*\brel=["']?stylesheet["']?[^>]*>/gi;
const HREF = /\shref=(?:"([^"]*)"|'([^']*)')/i;

/**
 * Rewrites the given pages (the gallery's own, never the host's) and the stylesheets they link
 * to. Rewriting a stylesheet is safe for any other page that shares it: a relative `url()` in a
 * CSS file points at the same place as the absolute one did.
 */
export async function relativizePages(outDir: string, pages: readonly string[], base = '/'): Promise<{ files: number }> {
  const stylesheets = new Set<string>();
  let files = 0;
  for (const page of pages) {
    const text = await readFile(page, 'utf8');
    linkedStylesheets(text, page, outDir, base, stylesheets);
    const depth = path.relative(outDir, path.dirname(page)).split(path.sep).filter(Boolean).length;
    const rewritten = relativizeHtml(text, depth, base);
    if (rewritten !== text) {
      await writeFileAtomic(page, rewritten);
      files += 1;
    }
  }
  return { files: files + (await rewriteStylesheets(outDir, stylesheets, base)) };
}

/**
 * Rewrites the stylesheets the given pages link to, for pages whose own URLs were made relative
 * as they rendered (site/relative-middleware.ts). Astro links the same stylesheets from every
 * page of one route, so one page of each route is enough.
 */
export async function relativizeStylesheets(outDir: string, pages: readonly string[], base = '/'): Promise<{ files: number }> {
  const stylesheets = new Set<string>();
  for (const page of pages) linkedStylesheets(await readFile(page, 'utf8'), page, outDir, base, stylesheets);
  return { files: await rewriteStylesheets(outDir, stylesheets, base) };
}

/** Adds the files of the site's stylesheets that `html` (the file `page`) links to, to `into`. */
function linkedStylesheets(html: string, page: string, outDir: string, base: string, into: Set<string>): void {
  const local = localPath(base);
  for (const tag of html.match(STYLESHEET) ?? []) {
    const href = HREF.exec(tag);
    const target = (href?.[1] ?? href?.[2])?.split(/[?#]/)[0];
    // Another origin (`//cdn…`, `https:`) is not a file of this site.
    if (!target || target.startsWith('//') || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const file = target.startsWith('/') ? path.join(outDir, local(target.slice(1))) : path.resolve(path.dirname(page), target);
    if (!path.relative(outDir, file).startsWith('..')) into.add(file);
  }
}

async function rewriteStylesheets(outDir: string, stylesheets: Set<string>, base: string): Promise<number> {
  let files = 0;
  for (const sheet of stylesheets) {
    const text = await readFile(sheet, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const depth = path.relative(outDir, path.dirname(sheet)).split(path.sep).filter(Boolean).length;
    const rewritten = relativizeCss(text, depth, base);
    if (rewritten !== text) {
      await writeFileAtomic(sheet, rewritten);
      files += 1;
    }
  }
  return files;
}
