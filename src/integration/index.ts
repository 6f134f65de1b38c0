/**
 * The Astro integration: checks the config before anything is built (so a bad file stops the
 * build with a clear message, not a stack trace), lets Vite read the model folders, and gives
 * pages the site settings through `virtual:civitscraper/settings`.
 */
import type { AstroIntegration } from 'astro';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import type { Config } from './engine/config/schema.ts';
import { loadOrExplain, rememberAstroCommand, siteScanJobs, type CivitscraperLoaderOptions } from './loaders.ts';
import { relativizeSite } from './site/relative-urls.ts';
import { PublishError, publishSite } from './site/publish.ts';
import { inertHtmlKeys, siteSettings, type SiteSettings } from './site/settings.ts';

export { civitscraperLoader } from './loaders.ts';
export type { SiteSettings };

const SETTINGS_MODULE = 'virtual:civitscraper/settings';

export interface CivitscraperOptions extends CivitscraperLoaderOptions {
  /**
   * `low` (default): during `astro build`, V8 favours memory over speed (`--optimize-for-size`).
   * Measured at 10,000 models: peak RSS 0.86 GB instead of 1.5 GB, the build about a third
   * slower. `fast`: V8's defaults, for machines with memory to spare.
   */
  buildMemory?: 'low' | 'fast';
}

export default function civitscraper(options: CivitscraperOptions = {}): AstroIntegration {
  return {
    name: 'civitscraper',
    hooks: {
      'astro:config:setup': async ({ command, updateConfig, addWatchFile, logger }) => {
        rememberAstroCommand(command);
        const flags = buildMemoryFlags(command, options.buildMemory);
        // Set while the process runs: V8 reads this one at every heap-growth decision. A build
        // holds every model's entry, renders a page per model and lets garbage pile up between
        // collections; library builds are batch jobs, often on small machines (NAS boxes).
        if (flags.length > 0) v8.setFlagsFromString(flags.join(' '));
        const loaded = await loadOrExplain(options, { tolerateMissing: command === 'sync' });
        if (loaded) {
          for (const warning of loaded.warnings) logger.warn(warning);
          addWatchFile(loaded.file);
        }
        const config = loaded?.config;
        const settings = siteSettings(config, config ? siteScanJobs(config, options)[0]?.job : undefined);
        updateConfig({
          vite: {
            server: { fs: { allow: ['.', ...(config ? foldersToServe(config) : [])] } },
            plugins: [
              {
                name: 'civitscraper:settings',
                resolveId: (id: string) => (id === SETTINGS_MODULE ? `\0${SETTINGS_MODULE}` : undefined),
                load: (id: string) =>
                  id === `\0${SETTINGS_MODULE}` ? `export default ${JSON.stringify(settings)};` : undefined,
              },
            ],
          },
        });
      },
      'astro:build:done': async ({ dir, logger }) => {
        const { files } = await relativizeSite(fileURLToPath(dir));
        logger.info(`made URLs relative in ${files} files (the site works from disk and under any path)`);
        // Seed keys: report the ones that no longer do anything, then write the copy a seed
        // user's bookmark points at.
        const loaded = await loadOrExplain(options, { tolerateMissing: true });
        const job = loaded ? siteScanJobs(loaded.config, options)[0]?.job : undefined;
        for (const note of inertHtmlKeys(job)) logger.warn(note);
        const galleryPath = job?.output.metadata.html.gallery_path;
        if (galleryPath) {
          try {
            const published = await publishSite(fileURLToPath(dir), galleryPath);
            logger.info(
              `site also written to ${published.siteDir} (${published.copied} files updated, ${published.removed} removed); open ${published.entry}`,
            );
          } catch (error) {
            // The site itself is built; only the extra copy was refused.
            if (error instanceof PublishError) logger.error(error.message);
            else throw error;
          }
        }
      },
    },
  };
}

export function buildMemoryFlags(command: string, buildMemory: CivitscraperOptions['buildMemory'] = 'low'): string[] {
  return command === 'build' && buildMemory === 'low' ? ['--optimize-for-size'] : [];
}

/** Model folders (and base_dir) hold the previews astro:assets reads in dev. */
function foldersToServe(config: Config): string[] {
  const folders = Object.values(config.input_paths).map((input) => path.resolve(input.path));
  for (const job of Object.values(config.jobs)) {
    if (job.type === 'scan-paths' && job.output.base_dir) folders.push(path.resolve(job.output.base_dir));
  }
  if (config.output?.base_dir) folders.push(path.resolve(config.output.base_dir));
  return folders;
}


