/**
 * Builds the gallery site with Astro's JavaScript API: the same as `npm run build`, with the
 * config file, output folder and cache folder chosen by the caller (the demo, the CLI's
 * `build`, and the end-to-end tests, which must not share Astro's cache with each other).
 */
import { build } from 'astro';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));

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
  const cacheDir = options.cacheDir ? path.resolve(options.cacheDir) : undefined;
  // Parts of Astro's build (the prerender chunks and the packages they import) go by the working
  // directory, not by `root`: build from the project folder wherever the command was started.
  const cwd = process.cwd();
  process.chdir(PROJECT_ROOT);
  // For an output folder outside the project, Astro stages its prerender chunks in the shared
  // `<project>/.astro` and renames them across (EXDEV on another disk; collisions when two builds
  // run at once). Build in a private folder inside the project instead, then copy the result.
  const inside = !path.relative(PROJECT_ROOT, outDir).startsWith('..');
  if (!inside) await mkdir(path.join(PROJECT_ROOT, 'node_modules', '.cache'), { recursive: true });
  const staging = inside ? undefined : await mkdtemp(path.join(PROJECT_ROOT, 'node_modules', '.cache', 'civitscraper-build-'));
  try {
    await build({
      root: PROJECT_ROOT,
      outDir: staging ?? outDir,
      ...(cacheDir ? { cacheDir } : {}),
      logLevel: options.logLevel ?? 'info',
    });
    if (staging) {
      await rm(outDir, { recursive: true, force: true });
      await cp(staging, outDir, { recursive: true });
    }
  } finally {
    process.chdir(cwd);
    if (staging) await rm(staging, { recursive: true, force: true });
  }
  return { outDir };
}
