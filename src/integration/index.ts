/**
 * The Astro integration:
 *
 *   // astro.config.mjs
 *   import civitscraper from 'civitscraper-astro';
 *   export default defineConfig({ integrations: [civitscraper()] });
 *
 * It checks the CivitScraper config before anything is built (a bad file stops the build with a
 * message naming the key), runs the engine once per build (site/sync.ts), adds the gallery's
 * pages under `base`, and gives them their settings through `virtual:civitscraper/settings`.
 * The host's own pages and config are left as they are.
 */
import type { AstroConfig, AstroIntegration, AstroIntegrationLogger } from 'astro';
import { AstroError } from 'astro/errors';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import type { LoadedConfig } from './engine/config/index.ts';
import type { Config } from './engine/config/schema.ts';
import { redactingLogger } from './engine/util/logger.ts';
import { firstTimeWarnings, loadOrExplain, rememberAstroCommand, watchModelFiles } from './loaders.ts';
import { parseOptions, v8FlagsFor, type CivitscraperOptions, type CivitscraperUserOptions } from './options.ts';
import { PublishError, publishSite } from './site/publish.ts';
import { relativizeStylesheets, routeKey } from './site/relative-urls.ts';
import { inertHtmlKeys, siteSettings, type SiteSettings } from './site/settings.ts';
import { prepareThumbnails, serveSiteAsset, siteAssets, writeSiteAssets, type SiteAsset } from './site/assets.ts';
import { CurationError, readCuration } from './site/curation.ts';
import { siteScanJobs, syncSite, type SiteData } from './site/sync.ts';
import { inSite } from './site/view.ts';

export { civitscraperLoader, modelsSchema, ModelRecordSchema } from './loaders.ts';
export type { ModelRecord } from './engine/records/schema.ts';
export type { CivitscraperUserOptions as CivitscraperOptions, SiteSettings };

const SETTINGS_MODULE = 'virtual:civitscraper/settings';

// Endpoints are .ts in the sources and .js in the package, like this module.
const SCRIPT = path.extname(fileURLToPath(import.meta.url));

/** The gallery's pages, relative to `base`; entrypoints live in routes/ beside this file. */
export const GALLERY_ROUTES = [
  { pattern: '', entrypoint: 'index.astro' },
  { pattern: 'list', entrypoint: 'list.astro' },
  { pattern: 'stats', entrypoint: 'stats.astro' },
  { pattern: 'problems', entrypoint: 'problems.astro' },
  { pattern: 'models/[id]', entrypoint: 'model.astro' },
  { pattern: 'gallery-data/[file]', entrypoint: `gallery-data${SCRIPT}` },
] as const;

export default function civitscraper(userOptions: CivitscraperUserOptions = {}): AstroIntegration {
  const options = parseOptions(userOptions);
  let loaded: LoadedConfig | undefined;
  let astroConfig: AstroConfig | undefined;
  let settings: SiteSettings | undefined;
  let astroCommand: string | undefined;

  const engineRun = (logger: AstroIntegrationLogger, changedAt?: number, onScanned?: (models: number) => void) => {
    if (!loaded) return undefined;
    const redacted = redactingLogger(logger, [loaded.config.api.key]);
    return syncSite({
      config: loaded.config,
      configFile: loaded.file,
      job: options.job,
      logger: redacted,
      ...(changedAt ? { changedAt } : {}),
      ...(onScanned ? { onScanned } : {}),
    });
  };
  let favouringMemory = false;
  /**
   * `lowMemoryBuild: 'auto'`: V8 favours memory once the library is known to be large. Not
   * during the engine's run: at 50,000 models that made the run twice as slow.
   */
  const sizeBuildTo = (models: number, logger: AstroIntegrationLogger) => {
    if (favouringMemory || options.lowMemoryBuild !== 'auto') return;
    const flags = v8FlagsFor('build', options, models);
    if (flags.length === 0) return;
    favouringMemory = true;
    v8.setFlagsFromString(flags.join(' '));
    logger.info(`${models} models: building with V8's ${flags.join(' ')} (lowMemoryBuild: 'auto')`);
  };

  return {
    name: 'civitscraper',
    hooks: {
      'astro:config:setup': async ({ command, config, injectRoute, addMiddleware, updateConfig, addWatchFile, logger }) => {
        rememberAstroCommand(command);
        astroCommand = command;
        astroConfig = config;
        // `astro preview` serves what was built; nothing of ours runs.
        if (command === 'preview') return;
        if (options.pages) assertDirectoryFormat(config);
        // Read by V8 at every heap-growth decision, so setting it while the process runs works.
        const flags = v8FlagsFor(command, options);
        if (flags.length > 0) v8.setFlagsFromString(flags.join(' '));
        const root = fileURLToPath(config.root);
        const configOption = options.config ? path.resolve(root, options.config) : undefined;
        loaded = await loadOrExplain({ config: configOption }, { tolerateMissing: command === 'sync', cwd: root });
        if (loaded) {
          for (const warning of firstTimeWarnings(loaded)) logger.warn(warning);
          addWatchFile(loaded.file);
        }
        const job = loaded ? siteScanJobs(loaded.config, options.job)[0]?.job : undefined;
        settings = withRelativeUrls(withCuration(siteSettings(loaded?.config, job), options, root), options, command, config);
        if (settings.curationFile && options.pages) {
          checkCuration(settings.curationFile, settings.curationKey ?? 'site.curation');
          // A new export saved over the file rebuilds the pages in dev.
          addWatchFile(settings.curationFile);
        }
        if (options.pages) {
          for (const route of GALLERY_ROUTES) {
            injectRoute({
              pattern: `${options.base}${route.pattern}`,
              entrypoint: new URL(`./routes/${route.entrypoint}`, import.meta.url),
              prerender: true,
            });
          }
          if (settings.relativeUrls) addMiddleware({ entrypoint: new URL(`./site/relative-middleware${SCRIPT}`, import.meta.url), order: 'post' });
        }
        updateConfig({
          vite: {
            // Setting `allow` replaces Vite's default (the project), so the project stays listed.
            server: { fs: { allow: [root, ...(loaded ? foldersToServe(loaded.config) : [])] } },
            plugins: [settingsPlugin(settings)],
          },
        });
      },
      'astro:config:done': ({ injectTypes }) => {
        injectTypes({
          filename: 'civitscraper.d.ts',
          content: `declare module '${SETTINGS_MODULE}' {\n  const settings: import('civitscraper-astro').SiteSettings;\n  export default settings;\n}\n`,
        });
      },
      'astro:build:start': async ({ logger }) => {
        if (!options.pages || astroCommand !== 'build') return;
        // Sized as soon as the scan has its records, before they are made into entries (the
        // build's peak at 50,000 models), else by the entries (a run another caller started).
        const data = await engineRun(logger, undefined, (models) => sizeBuildTo(models, logger));
        if (data) sizeBuildTo(data.entries.length, logger);
        // Not awaited: the thumbnails are encoded while Astro renders the pages (on a cold build
        // of 5,000 models they were half its time, one after the other); writeImages joins them.
        if (settings && data) void prepareThumbnails(imageAssets(data, settings), settings.thumbCacheDir);
      },
      'astro:server:setup': async ({ server, logger }) => {
        // `astro sync` and `astro check` start a server of their own too: types only, no scan.
        if (astroCommand !== 'dev' || !options.pages || !loaded || !settings) return;
        const pageSettings = settings;
        let assets = assetMap(await engineRun(logger), pageSettings);
        const prefix = `${(astroConfig?.base ?? '/').replace(/\/+$/, '')}${options.base}`;
        server.middlewares.use((request, response, next) => {
          const url = decodeURIComponent((request.url ?? '').split('?')[0] ?? '');
          const asset = url.startsWith(prefix) ? assets.get(url.slice(prefix.length)) : undefined;
          if (!asset) return next();
          serveSiteAsset(asset, pageSettings.thumbCacheDir, response).catch(next);
        });
        watchModelFiles({ watcher: server.watcher, logger }, loaded.config, async (changedAt) => {
          assets = assetMap(await engineRun(logger, changedAt), pageSettings);
          // The pages read the new entries when their modules run again; the browser reloads.
          for (const environment of Object.values(server.environments)) environment.moduleGraph.invalidateAll();
          server.ws.send({ type: 'full-reload' });
        });
      },
      'astro:build:done': async ({ dir, assets, logger }) => {
        if (!options.pages) return;
        const outDir = fileURLToPath(dir);
        if (settings?.relativeUrls) {
          // The pages got relative URLs as they rendered (site/relative-middleware.ts); the
          // stylesheets they link to are Vite's, written again on every build.
          const { files } = await relativizeStylesheets(outDir, onePagePerRoute(assets, options.base), settings.relativeUrls.base);
          logger.info(`the gallery's pages have relative URLs (${files} stylesheets rewritten): its folder works from disk and under any path`);
        }
        await writeImages(outDir, options, settings, await engineRun(logger), logger);
        await publishCopy(outDir, loaded, options, logger);
      },
    },
  };
}

/** `civitscraper({ curation })` wins over the config's `site.curation`; relative to the project root. */
function withCuration(settings: SiteSettings, options: CivitscraperOptions, root: string): SiteSettings {
  if (!options.curation) return settings;
  return { ...settings, curationFile: path.resolve(root, options.curation), curationKey: 'civitscraper({ curation }) in astro.config.mjs' };
}

/** A bad curation file stops the build before the scan, naming the file and the key. */
function checkCuration(file: string, key: string): void {
  try {
    readCuration(file, key);
  } catch (error) {
    if (!(error instanceof CurationError)) throw error;
    const friendly = new AstroError(error.message, 'Export the file again from the gallery ("Your data" → Export), or remove the setting; see "Your data in the build" in the civitscraper-astro README.');
    friendly.stack = '';
    throw friendly;
  }
}

/** The gallery's images, linked into the built site (site/assets.ts). */
async function writeImages(
  outDir: string,
  options: CivitscraperOptions,
  settings: SiteSettings | undefined,
  data: SiteData | undefined,
  logger: AstroIntegrationLogger,
): Promise<void> {
  if (!settings || !data) return;
  const entries = data.entries.filter((entry) => inSite(entry.data, settings));
  const result = await writeSiteAssets(path.join(outDir, options.base), imageAssets(data, settings), settings.thumbCacheDir);
  logger.info(`${result.files} images in place (${result.copied} copied, the rest hard-linked)`);
  // Previews of a missing model file are often missing with it (the same share): one line for them.
  const ofMissing = new Set(siteAssets(entries.filter((entry) => entry.missing), settings).map((asset) => asset.source));
  const gone = result.missing.filter((source) => ofMissing.has(source));
  for (const source of result.missing) if (!ofMissing.has(source)) logger.warn(`image missing or unreadable, left out of the site: ${source}`);
  if (gone.length > 0) logger.info(`${gone.length} images of missing model files are not reachable either; their pages show none until the files are back`);
}

function imageAssets(data: SiteData | undefined, settings: SiteSettings): SiteAsset[] {
  return siteAssets((data?.entries ?? []).filter((entry) => inSite(entry.data, settings)), settings);
}

function assetMap(data: SiteData | undefined, settings: SiteSettings): Map<string, SiteAsset> {
  return new Map(imageAssets(data, settings).map((asset) => [asset.path, asset]));
}

/** Model pages sit in folders of their own (`models/<id>/index.html`) with their images beside them. */
function assertDirectoryFormat(config: AstroConfig): void {
  if (config.build.format === 'directory') return;
  const error = new AstroError(
    `civitscraper(): the gallery needs build.format "directory" (Astro's default); this site sets "${config.build.format}".`,
    'Remove build.format from astro.config.mjs, or use civitscraper({ pages: false }) and render the models in pages of your own with civitscraperLoader().',
  );
  error.stack = '';
  throw error;
}

function settingsPlugin(settings: SiteSettings) {
  return {
    name: 'civitscraper:settings',
    resolveId: (id: string) => (id === SETTINGS_MODULE ? `\0${SETTINGS_MODULE}` : undefined),
    load: (id: string) => (id === `\0${SETTINGS_MODULE}` ? `export default ${JSON.stringify(settings)};` : undefined),
  };
}

/** One HTML file of each of the gallery's routes, as Astro reports them (a route's pages all link the same stylesheets). */
function onePagePerRoute(assets: Map<string, URL[]>, base: string): string[] {
  const patterns = new Set(galleryPatterns(base));
  const files: string[] = [];
  for (const [pattern, urls] of assets) {
    if (!patterns.has(routeKey(pattern))) continue;
    const page = urls.find((url) => url.pathname.endsWith('.html'));
    if (page) files.push(fileURLToPath(page));
  }
  return files;
}

function galleryPatterns(base: string): string[] {
  return GALLERY_ROUTES.map((route) => routeKey(`${base}${route.pattern}`));
}

/** `astro build` with `relativeUrls` (the default): the pages say so to the middleware that rewrites them. */
function withRelativeUrls(settings: SiteSettings, options: CivitscraperOptions, command: string, config: AstroConfig): SiteSettings {
  if (command !== 'build' || !options.relativeUrls || !options.pages) return settings;
  return { ...settings, relativeUrls: { base: config.base, patterns: galleryPatterns(options.base) } };
}

/**
 * `output.metadata.html.gallery_path`: the seed users' bookmark gets a copy of the site. Seed
 * keys that no longer do anything are named first.
 */
async function publishCopy(outDir: string, loaded: LoadedConfig | undefined, options: CivitscraperOptions, logger: AstroIntegrationLogger): Promise<void> {
  const job = loaded ? siteScanJobs(loaded.config, options.job)[0]?.job : undefined;
  for (const note of inertHtmlKeys(job)) logger.warn(note);
  const html = job?.output.metadata.html;
  const galleryPath = html?.gallery_path;
  if (!galleryPath) return;
  // The seed wrote its gallery there; without a gallery there is nothing to put at that path.
  if (!html.generate_gallery) {
    logger.info(`html.generate_gallery is false: nothing is written to ${galleryPath} (the site is in ${outDir})`);
    return;
  }
  try {
    const published = await publishSite(outDir, galleryPath);
    logger.info(`site also written to ${published.siteDir} (${published.copied} files updated, ${published.removed} removed); open ${published.entry}`);
  } catch (error) {
    // The copy was asked for: a build that could not write it has failed (exit 1), even though
    // the site itself is in outDir.
    if (!(error instanceof PublishError)) throw error;
    const failed = new AstroError(error.message, `The site itself is built in ${outDir}. Point output.metadata.html.gallery_path at a new or empty folder (or a .html file beside one), or remove the key.`);
    failed.stack = '';
    throw failed;
  }
}

/** Model folders (and base_dir) hold the previews the pages read in dev. */
function foldersToServe(config: Config): string[] {
  const folders = Object.values(config.input_paths).map((input) => path.resolve(input.path));
  for (const job of Object.values(config.jobs)) {
    if (job.type === 'scan-paths' && job.output.base_dir) folders.push(path.resolve(job.output.base_dir));
  }
  if (config.output?.base_dir) folders.push(path.resolve(config.output.base_dir));
  return folders;
}
