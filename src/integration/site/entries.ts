/**
 * The file of entries the engine's run for the site writes (site/sync.ts) and the pages read
 * while they render. Apart from sync.ts so the pages' bundle does not take in the engine: a page
 * reads this file, it never runs a scan (and Astro's incremental build hashes every module a page
 * imports, so an engine module in that graph would re-render every page when it changes).
 */
import { readFileSync, type Stats } from 'node:fs';
import type { ModelRecord } from '../engine/records/schema.ts';
import type { SiteSidecarValues } from './sidecar-values.ts';

export const ENTRIES_FORMAT = 1;

export interface SiteEntry {
  id: string;
  /** The gallery's half of the record (details.ts). */
  data: ModelRecord;
  /** Notes and a preferred weight found in A1111 / ComfyUI-Lora-Manager sidecars (sidecar-values.ts). */
  sidecar?: SiteSidecarValues;
  /** The file was not found since this time (ISO); the entry is what the last run knew (missing.ts). */
  missing?: { since: string };
  /** Version ids and hashes its images' generation data name (resources.ts), for the page's cacheKey. */
  refs?: { versions: number[]; hashes: string[] };
}

/** A file the site cannot show as a model (unreadable, empty, corrupt, a broken link), and why. */
export interface SiteProblem {
  /** `<input path id>/<path below it>`, or the absolute path when it is under none. */
  where: string;
  path: string;
  stage: string;
  message: string;
}

/**
 * What the last run wrote. Read by the pages while they render; a missing file means the engine
 * has not run for this cache folder (the pages then say so rather than show nothing).
 */
export function readSiteData(file: string): { entries: SiteEntry[]; problems: SiteProblem[] } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as { format?: number; entries?: SiteEntry[]; problems?: SiteProblem[] };
  if (parsed.format !== ENTRIES_FORMAT || !Array.isArray(parsed.entries)) return undefined;
  return { entries: parsed.entries, problems: parsed.problems ?? [] };
}

/** What tells one entries file from another (its size and mtime), for the pages' cache and the shared copy. */
export function entriesStamp(info: Pick<Stats, 'size' | 'mtimeMs'> | undefined): string {
  return info ? `${info.size}:${info.mtimeMs}` : 'missing';
}

type SiteDataCopy = { stamp: string; entries: SiteEntry[]; problems: SiteProblem[] };
const SHARED = Symbol.for('civitscraper.siteData');

function shared(): Map<string, SiteDataCopy> {
  const holder = globalThis as Record<symbol, Map<string, SiteDataCopy> | undefined>;
  holder[SHARED] ??= new Map();
  return holder[SHARED];
}

/**
 * The entries just written to `file` (stamp: entriesStamp of it after the write), for pages
 * rendered in this process: they take these instead of parsing the file again (at 5,000 models
 * a parse of 12 MB and a second copy in memory). Only objects exactly as the file has them
 * (JSON values, nothing undefined), so a page sees what it would have read.
 */
export function shareSiteData(file: string, copy: SiteDataCopy): void {
  shared().set(file, copy);
}

/** The shared copy of `file` when it is still the file on disk (same stamp), else undefined. */
export function sharedSiteData(file: string, stamp: string): { entries: SiteEntry[]; problems: SiteProblem[] } | undefined {
  const copy = shared().get(file);
  return copy?.stamp === stamp ? copy : undefined;
}

/** Effective preferred weight from the sidecars: A1111's, else ComfyUI-Lora-Manager's. */
export function sidecarWeight(values: SiteSidecarValues | undefined): number | undefined {
  return values?.a1111?.weight ?? values?.loraManager?.weight;
}
