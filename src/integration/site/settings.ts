import path from 'node:path';
import type { Config, ScanJob } from '../engine/config/schema.ts';
import { NSFW_LEVEL_VALUES } from '../engine/media/nsfw.ts';

/** What pages need from the config; serialised into `virtual:civitscraper/settings`. */
export interface SiteSettings {
  title: string;
  showLocalPaths: boolean;
  /** Images at or above this level (bit value) are blurred until clicked. */
  blurNsfwLevel: number;
  /** A version counts as NSFW at or above this nsfwLevel (links go to the NSFW domain). */
  nsfwThreshold: number;
  domains: { sfw: string; nsfw: string };
  /** `html.enabled`: per-model pages. Off: cards link to CivitAI. */
  modelPages: boolean;
  /** `html.generate_gallery`: the interactive gallery at the root (off: a plain list). */
  gallery: boolean;
  /** `html.sfw_only`: NSFW models and images rated R or above are left out of the site. */
  sfwOnly: boolean;
  /** Absolute folder for the gallery's card thumbnails, kept between builds. */
  thumbCacheDir: string;
  /** Absolute folder of the page-only parts of each record (site/details.ts). */
  detailsDir: string;
  /** Absolute path of the entries the pages are made from (site/sync.ts). */
  entriesFile: string;
  /** Absolute path of the curation file whose values the pages start with (site/curation.ts). */
  curationFile?: string;
  /** Where `curationFile` was set, for messages (`site.curation`, or the integration's option). */
  curationKey?: string;
  /**
   * `astro build` with `relativeUrls`: Astro's `base` and the gallery's route patterns, whose
   * pages get relative URLs as they render (site/relative-middleware.ts).
   */
  relativeUrls?: { base: string; patterns: string[] };
}

export function siteSettings(config: Config | undefined, job: ScanJob | undefined): SiteSettings {
  const html = job?.output.metadata.html;
  const images = job?.output.images;
  return {
    title: html?.gallery_title ?? 'Model Gallery',
    showLocalPaths: html?.show_local_paths ?? true,
    blurNsfwLevel: NSFW_LEVEL_VALUES[images?.blur_nsfw_level ?? 'R'],
    nsfwThreshold: config?.api.nsfw.level_threshold ?? 4,
    domains: { sfw: config?.api.domains.sfw ?? 'civitai.com', nsfw: config?.api.domains.nsfw ?? 'civitai.red' },
    modelPages: html?.enabled ?? true,
    gallery: html?.generate_gallery ?? true,
    sfwOnly: html?.sfw_only ?? false,
    thumbCacheDir: path.resolve(cacheDirOf(config), 'site-thumbnails'),
    detailsDir: siteDetailsDir(config),
    entriesFile: path.resolve(cacheDirOf(config), 'site-entries.json'),
    ...(config?.site.curation ? { curationFile: config.site.curation, curationKey: 'site.curation' } : {}),
  };
}

export function siteDetailsDir(config: Config | undefined): string {
  return path.resolve(cacheDirOf(config), 'site-details');
}

function cacheDirOf(config: Config | undefined): string {
  return config?.scanner.cache_dir ?? '.civitscraper_cache';
}

/**
 * Seed keys of `output.metadata.html` that no longer change anything, with the reason; the build
 * reports each one that is set to something other than its default (no key is silently ignored).
 */
export function inertHtmlKeys(job: ScanJob | undefined): string[] {
  const html = job?.output.metadata.html;
  if (!html) return [];
  const notes: string[] = [];
  const pages = 'model pages are part of the site, at models/<id>/index.html';
  // The config loader resolves `path` to an absolute folder; only its template text matters.
  if (!html.path.endsWith('{model_dir}')) notes.push(`output.metadata.html.path has no effect: ${pages}`);
  if (html.filename !== '{model_name}.html') notes.push(`output.metadata.html.filename has no effect: ${pages}`);
  if (!html.include_existing_in_gallery) {
    notes.push('output.metadata.html.include_existing_in_gallery: false has no effect: the gallery always lists every model file of the job');
  }
  return notes;
}
