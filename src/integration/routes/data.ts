/// <reference types="astro/client" />
/**
 * What every injected page reads: the entries the integration's engine run wrote (site/sync.ts),
 * parsed once per build and again only when the file changes (a rescan under `astro dev`).
 */
import { statSync } from 'node:fs';
import { AstroError } from 'astro/errors';
import settings from 'virtual:civitscraper/settings';
import { readSiteData, type SiteEntry, type SiteProblem } from '../site/sync.ts';
import { inSite } from '../site/view.ts';

let cached: { stamp: string; entries: SiteEntry[]; problems: SiteProblem[] } | undefined;

/** The models the site shows (`html.sfw_only` applied), in the order the engine found them. */
export function siteEntries(): SiteEntry[] {
  return siteData().entries;
}

/** The files of the library that are not models the site can show, and why. */
export function siteProblems(): SiteProblem[] {
  return siteData().problems;
}

function siteData(): { entries: SiteEntry[]; problems: SiteProblem[] } {
  const file = settings.entriesFile;
  const info = statSync(file, { throwIfNoEntry: false });
  const stamp = info ? `${info.size}:${info.mtimeMs}` : 'missing';
  if (cached?.stamp === stamp) return cached;
  const data = readSiteData(file);
  if (!data) {
    throw new AstroError(
      `CivitScraper: no model data at ${file}.`,
      'The gallery pages are made from the engine run of the civitscraper() integration; check that it is in `integrations` of astro.config.mjs and that the build log shows its scan.',
    );
  }
  cached = { stamp, entries: data.entries.filter((entry) => inSite(entry.data, settings)), problems: data.problems };
  return cached;
}
