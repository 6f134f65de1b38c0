/**
 * The file of entries the engine's run for the site writes (site/sync.ts) and the pages read
 * while they render. Apart from sync.ts so the pages' bundle does not take in the engine: a page
 * reads this file, it never runs a scan (and Astro's incremental build hashes every module a page
 * imports, so an engine module in that graph would re-render every page when it changes).
 */
import { readFileSync } from 'node:fs';
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

/** Effective preferred weight from the sidecars: A1111's, else ComfyUI-Lora-Manager's. */
export function sidecarWeight(values: SiteSidecarValues | undefined): number | undefined {
  return values?.a1111?.weight ?? values?.loraManager?.weight;
}
