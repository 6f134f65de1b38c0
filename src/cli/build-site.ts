/**
 * Builds the gallery site with Astro's JavaScript API: the same as `npm run build`, with the
 * config file, output folder and cache folder chosen by the caller (the demo, the CLI's
 * `build`, and the end-to-end tests, which must not share Astro's cache with each other).
 */
import { build } from 'astro';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface BuildSiteOptions {
  configPath: string;
  outDir?: string;
  /** Astro's cache (content store, optimized images); one per site being built. */
  cacheDir?: string;
  job?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export async function buildSite(options: BuildSiteOptions): Promise<{ outDir: string }> {
  const outDir = path.resolve(options.outDir ?? path.join(PROJECT_ROOT, 'dist'));
  // The loader and the integration find the config the same way the CLI does.
  process.env.CIVITSCRAPER_CONFIG = path.resolve(options.configPath);
  if (options.job) process.env.CIVITSCRAPER_JOB = options.job;
  await build({
    root: PROJECT_ROOT,
    outDir,
    ...(options.cacheDir ? { cacheDir: path.resolve(options.cacheDir) } : {}),
    logLevel: options.logLevel ?? 'info',
  });
  return { outDir };
}
