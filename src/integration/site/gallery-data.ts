/**
 * The gallery's index as the two classic scripts the gallery page loads, each with a content
 * hash in its name: the core (what filtering needs) and the extra part. The core is a file of
 * its own rather than JSON inside the page because it grows with the library (700 KB gzip at
 * 50,000 models): the page with its first cards paints without waiting for it, and a browser
 * keeps it cached between visits instead of downloading it again with every gallery page. The
 * gallery page and the `gallery-data/` route build it from the same records; the result is
 * remembered for the records list it was made from, so one build computes it once.
 */
import { createHash } from 'node:crypto';
import type { ModelRecord } from '../engine/records/schema.ts';
import { buildGalleryIndex, coreScript, extraScript, type EntryInfo, type IndexOptions } from './gallery-index.ts';
import type { LibraryContext } from './view.ts';

export interface GalleryData {
  coreScript: string;
  /** `core-<hash>.js` */
  coreFile: string;
  extraScript: string;
  /** `gallery-<hash>.js` */
  extraFile: string;
}

let last: { key: string; data: GalleryData } | undefined;

export function galleryData(
  records: readonly ModelRecord[],
  settings: IndexOptions['settings'],
  context?: LibraryContext,
  info?: ReadonlyMap<string, EntryInfo>,
): GalleryData {
  // Same records (ids and content digests would be ideal; ids + sizes + check times are enough
  // to tell one build's list from another's).
  const key = JSON.stringify([
    settings,
    records.length,
    records.map((record) => `${record.id}:${record.civitai.checkedAt ?? ''}:${record.file.mtimeMs}`),
    info ? [...info].map(([id, value]) => [id, value]) : null,
  ]);
  if (last?.key === key) return last.data;
  const index = buildGalleryIndex(records, { settings, ...(context ? { context } : {}), ...(info ? { info } : {}) });
  const core = coreScript(index.core);
  const extra = extraScript(index.extra);
  const data = { coreScript: core, coreFile: `core-${contentHash(core)}.js`, extraScript: extra, extraFile: `gallery-${contentHash(extra)}.js` };
  last = { key, data };
  return data;
}

function contentHash(script: string): string {
  return createHash('sha256').update(script).digest('hex').slice(0, 12);
}

/**
 * The URL of a browser script imported with `?worker&url`: in a build, Vite has bundled and
 * minified it as a classic script of its own (the `iife` worker format; the scripts import
 * nothing, so any format gives the same code). `astro dev` serves worker code with a loader
 * prepended that only works in a worker: the page then gets the source file as it is.
 */
export function classicScriptUrl(workerUrl: string): string {
  return workerUrl.includes('worker_file') ? (workerUrl.split('?')[0] ?? workerUrl) : workerUrl;
}
