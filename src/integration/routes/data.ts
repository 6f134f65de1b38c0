/// <reference types="astro/client" />
/**
 * What every injected page reads: the entries the integration's engine run wrote (site/sync.ts),
 * parsed once per build and again only when the file changes (a rescan under `astro dev`).
 */
import { statSync } from 'node:fs';
import { AstroError } from 'astro/errors';
import settings from 'virtual:civitscraper/settings';
import { CurationError, curationFor, readCuration, type Curation, type CurationEntry } from '../site/curation.ts';
import { galleryOrder, type EntryInfo } from '../site/gallery-index.ts';
import { entriesStamp, readSiteData, sharedSiteData, type SiteEntry, type SiteProblem } from '../site/entries.ts';
import { inSite } from '../site/view.ts';

interface Cached {
  stamp: string;
  entries: SiteEntry[];
  problems: SiteProblem[];
  curation?: { source: Curation; models: Map<string, CurationEntry> };
  info?: Map<string, EntryInfo>;
  order?: ReturnType<typeof galleryOrder>;
}

let cached: Cached | undefined;

/** The models the site shows (`html.sfw_only` applied), in the order the engine found them. */
export function siteEntries(): SiteEntry[] {
  return siteData().entries;
}

/**
 * The curation file's values for the models of the site, by page id (empty without one). A bad
 * or missing file stops the build: silently dropping someone's favourites would be worse.
 */
export function siteCuration(): Map<string, CurationEntry> {
  const file = settings.curationFile;
  if (!file) return new Map();
  const data = siteData();
  let source: Curation;
  try {
    source = readCuration(file, settings.curationKey ?? 'site.curation');
  } catch (error) {
    if (!(error instanceof CurationError)) throw error;
    const friendly = new AstroError(error.message, 'Export the file again from the gallery ("Your data" → Export), or remove the curation setting; see "Your data in the build" in the civitscraper-astro README.');
    friendly.stack = '';
    throw friendly;
  }
  // Read again only when the file changed (readCuration keeps the same object until then).
  if (data.curation?.source !== source) data.curation = { source, models: curationFor(source, data.entries.map((entry) => entry.data)) };
  return data.curation.models;
}

/** What each entry adds to its record (sidecar values, missing since), by id; only entries that add something. */
export function siteInfo(): Map<string, EntryInfo> {
  const data = siteData();
  if (data.info) return data.info;
  const info = new Map<string, EntryInfo>();
  for (const entry of data.entries) {
    if (entry.sidecar || entry.missing) info.set(entry.id, { ...(entry.sidecar ? { sidecar: entry.sidecar } : {}), ...(entry.missing ? { missing: entry.missing } : {}) });
  }
  data.info = info;
  return info;
}

/**
 * The site's records with their views in gallery order, made once per build for the pages that
 * list them all (the gallery and the plain list): sorting 10,000 names is not free.
 */
export function siteOrder(): ReturnType<typeof galleryOrder> {
  const data = siteData();
  data.order ??= galleryOrder(data.entries.map((entry) => entry.data), settings);
  return data.order;
}

/** The files of the library that are not models the site can show, and why. */
export function siteProblems(): SiteProblem[] {
  return siteData().problems;
}

function siteData(): Cached {
  const file = settings.entriesFile;
  const info = statSync(file, { throwIfNoEntry: false });
  const stamp = entriesStamp(info);
  if (cached?.stamp === stamp) return cached;
  // The integration's run in this process wrote the file: its entries, without a second parse.
  const data = (info ? sharedSiteData(file, stamp) : undefined) ?? readSiteData(file);
  if (!data) {
    throw new AstroError(
      `CivitScraper: no model data at ${file}.`,
      'The gallery pages are made from the engine run of the civitscraper() integration; check that it is in `integrations` of astro.config.mjs and that the build log shows its scan.',
    );
  }
  cached = { stamp, entries: data.entries.filter((entry) => inSite(entry.data, settings)), problems: data.problems };
  return cached;
}
