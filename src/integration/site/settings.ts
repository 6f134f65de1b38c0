import type { Config, ScanJob } from '../config/schema.ts';
import { NSFW_LEVEL_VALUES } from '../media/nsfw.ts';

/** What pages need from the config; serialised into `virtual:civitscraper/settings`. */
export interface SiteSettings {
  title: string;
  showLocalPaths: boolean;
  /** Images at or above this level (bit value) are blurred until clicked. */
  blurNsfwLevel: number;
  /** A version counts as NSFW at or above this nsfwLevel (links go to the NSFW domain). */
  nsfwThreshold: number;
  domains: { sfw: string; nsfw: string };
  modelPages: boolean;
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
  };
}
