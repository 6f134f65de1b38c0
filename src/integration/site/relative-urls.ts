/**
 * Astro writes root-absolute URLs (`/_astro/x.css`, `/models/…`). Rewritten relative to each
 * page, the built site works when opened from disk (file://) and when served under any
 * sub-path, with no `base` to configure.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../engine/util/atomic-write.ts';

// A double-quoted value may contain `'` (file names do) and the other way round.
const URL_ATTRIBUTE = /(\s(?:src|href|poster|action|data-src|data-href|data-full|data-thumb|data-poster)=)(?:"\/(?!\/)([^"]*)"|'\/(?!\/)([^']*)')/g;
const SRCSET_ATTRIBUTE = /(\ssrcset=)(?:"([^"]*)"|'([^']*)')/g;
const CSS_URL = /url\((["']?)\/(?!\/)([^)"']*)\1\)/g;

/** Rewrites one HTML document that lives `depth` folders below the site root. */
export function relativizeHtml(html: string, depth: number): string {
  const prefix = depth === 0 ? './' : '../'.repeat(depth);
  return html
    .replace(URL_ATTRIBUTE, (_match, attribute: string, doubleQuoted?: string, singleQuoted?: string) =>
      doubleQuoted !== undefined ? `${attribute}"${prefix}${doubleQuoted}"` : `${attribute}'${prefix}${singleQuoted}'`,
    )
    .replace(SRCSET_ATTRIBUTE, (_match, attribute: string, doubleQuoted?: string, singleQuoted?: string) => {
      const rewritten = (doubleQuoted ?? singleQuoted ?? '')
        .split(',')
        .map((candidate) => candidate.replace(/^(\s*)\/(?!\/)/, `$1${prefix}`))
        .join(',');
      return doubleQuoted !== undefined ? `${attribute}"${rewritten}"` : `${attribute}'${rewritten}'`;
    })
    .replace(CSS_URL, (_match, quote: string, rest: string) => `url(${quote}${prefix}${rest}${quote})`);
}

/** CSS files under `_astro/` refer to their neighbours as `/_astro/x`. */
export function relativizeCss(css: string, depth: number): string {
  const prefix = depth === 0 ? './' : '../'.repeat(depth);
  return css.replace(CSS_URL, (_match, quote: string, rest: string) => `url(${quote}${prefix}${rest}${quote})`);
}

export async function relativizeSite(outDir: string): Promise<{ files: number }> {
  let files = 0;
  const walk = async (folder: string, depth: number): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        await walk(full, depth + 1);
        continue;
      }
      const isHtml = entry.name.endsWith('.html');
      if (!isHtml && !entry.name.endsWith('.css')) continue;
      const text = await readFile(full, 'utf8');
      const rewritten = isHtml ? relativizeHtml(text, depth) : relativizeCss(text, depth);
      if (rewritten !== text) {
        await writeFileAtomic(full, rewritten);
        files += 1;
      }
    }
  };
  await walk(outDir, 0);
  return { files };
}
