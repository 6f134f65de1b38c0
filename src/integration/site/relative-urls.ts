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
const HREF = /\shref=(?:"\/(?!\/)([^"]*)"|'\/(?!\/)([^']*)')/i;

/**
 * Rewrites the given pages (the gallery's own, never the host's) and the stylesheets they link
 * to. Rewriting a stylesheet is safe for any other page that shares it: a relative `url()` in a
 * CSS file points at the same place as the absolute one did.
 */
export async function relativizePages(outDir: string, pages: readonly string[], base = '/'): Promise<{ files: number }> {
  const local = localPath(base);
  const stylesheets = new Set<string>();
  let files = 0;
  for (const page of pages) {
    const text = await readFile(page, 'utf8');
    for (const tag of text.match(STYLESHEET) ?? []) {
      const href = HREF.exec(tag);
      const target = href?.[1] ?? href?.[2];
      if (target) stylesheets.add(path.join(outDir, local(target.split(/[?#]/)[0] ?? '')));
    }
    const depth = path.relative(outDir, path.dirname(page)).split(path.sep).filter(Boolean).length;
    const rewritten = relativizeHtml(text, depth, base);
    if (rewritten !== text) {
      await writeFileAtomic(page, rewritten);
      files += 1;
    }
  }
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
  return { files };
}
