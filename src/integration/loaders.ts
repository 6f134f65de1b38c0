/**
 * The content-layer loader, for sites that render models in pages of their own:
 *
 *   // src/content.config.ts
 *   import { defineCollection } from 'astro:content';
 *   import { civitscraperLoader, modelsSchema } from 'civitscraper-astro/loaders';
 *   export const collections = { models: defineCollection({ loader: civitscraperLoader(), schema: modelsSchema }) };
 *
 * One entry per model file, holding the gallery's half of the record (site/details.ts). It
 * shares the engine run with the integration's pages (site/sync.ts), so a site with both scans
 * its library once. In `astro dev` it reruns when model files are added, changed or removed.
 */
import type { Loader, LoaderContext } from 'astro/loaders';
import { AstroError } from 'astro/errors';
import path from 'node:path';
import { ConfigError, loadConfig, type LoadedConfig } from './engine/config/index.ts';
import type { Config } from './engine/config/schema.ts';
import { ModelRecordSchema } from './engine/records/schema.ts';
import { isModelFileName } from './engine/scan/extensions.ts';
import type { Logger } from './engine/util/logger.ts';
import { redactingLogger } from './engine/util/logger.ts';
import { entryCodeStamp } from './site/entry-cache.ts';
import { syncSite } from './site/sync.ts';

export { ModelRecordSchema, ModelRecordSchema as modelsSchema } from './engine/records/schema.ts';
export type { ModelRecord } from './engine/records/schema.ts';

export interface CivitscraperLoaderOptions {
  /** Config file; defaults to the usual lookup (CIVITSCRAPER_CONFIG, ./civitscraper.yaml, …). */
  config?: string;
  /** Scan job to run; defaults to `default_job` (or every scan job). */
  job?: string;
}

export function civitscraperLoader(options: CivitscraperLoaderOptions = {}): Loader {
  return {
    name: 'civitscraper',
    schema: ModelRecordSchema,
    async load(context) {
      // `astro sync` and `astro check` want types, not a scan of the library (which may be
      // large, offline, or set to organize files): the entries of the last build are kept.
      if (isTypesOnly()) return;
      const loaded = await loadOrExplain(options);
      if (!loaded) return;
      await storeEntries(context, loaded, options);
      if (context.watcher) watchModelFiles(context, loaded.config, (changedAt) => storeEntries(context, loaded, options, changedAt));
    },
  };
}

/**
 * The integration records the Astro command here; a process-wide symbol because Astro loads the
 * integration and the content config as separate module instances.
 */
const COMMAND = Symbol.for('civitscraper.astroCommand');

export function rememberAstroCommand(command: string): void {
  (globalThis as Record<symbol, unknown>)[COMMAND] = command;
}

function isTypesOnly(): boolean {
  return (globalThis as Record<symbol, unknown>)[COMMAND] === 'sync';
}

const WARNED = Symbol.for('civitscraper.warnedConfigs');

/** Config warnings are said once per process, however many adapters load the file. */
export function firstTimeWarnings(loaded: LoadedConfig): string[] {
  const holder = globalThis as Record<symbol, Set<string> | undefined>;
  holder[WARNED] ??= new Set();
  if (holder[WARNED].has(loaded.file)) return [];
  holder[WARNED].add(loaded.file);
  return loaded.warnings;
}

export async function loadOrExplain(
  options: { config?: string | undefined },
  { tolerateMissing = false, cwd }: { tolerateMissing?: boolean; cwd?: string } = {},
): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfig({ ...(options.config ? { configPath: options.config } : {}), ...(cwd ? { cwd } : {}) });
  } catch (error) {
    if (error instanceof ConfigError && error.code === 'CONFIG_NOT_FOUND' && tolerateMissing) return undefined;
    if (error instanceof ConfigError) {
      const hint =
        error.code === 'CONFIG_NOT_FOUND'
          ? 'Create civitscraper.yaml in the project folder, set CIVITSCRAPER_CONFIG, or pass civitscraper({ config: "path/to/civitscraper.yaml" }) (README: "Use it on your own library").'
          : 'Fix the key named above, then run the build again.';
      const friendly = new AstroError(error.message, hint);
      // The message says everything; a stack trace into our loader would only bury it.
      friendly.stack = '';
      throw friendly;
    }
    throw error;
  }
}

async function storeEntries(context: LoaderContext, loaded: LoadedConfig, options: CivitscraperLoaderOptions, changedAt?: number): Promise<void> {
  for (const warning of firstTimeWarnings(loaded)) context.logger.warn(warning);
  const logger: Logger = redactingLogger(context.logger, [loaded.config.api.key]);
  const { entries } = await syncSite({ config: loaded.config, configFile: loaded.file, job: options.job, logger, ...(changedAt ? { changedAt } : {}) });
  const keep = new Set<string>();
  const code = entryCodeStamp();
  for (const { id, data: entry } of entries) {
    keep.add(id);
    // The digest of what goes in, as Astro's own glob loader does: an entry unchanged since the
    // last build is not validated again (the schema's parse of 10,000 records costs seconds).
    // Astro empties the store when the content config changes; a new version of this package
    // changes `code`.
    const digest = context.generateDigest({ code, entry });
    if (context.store.get(id)?.digest === digest) continue;
    const data = await context.parseData({ id, data: entry as unknown as Record<string, unknown> });
    context.store.set({ id, data, digest });
  }
  for (const id of context.store.keys()) if (!keep.has(id)) context.store.delete(id);
}

/**
 * Reruns `update` once model files in the input paths settle. Shared with the integration,
 * which does the same for its pages in `astro dev`.
 */
export function watchModelFiles(
  target: { watcher?: LoaderContext['watcher']; logger: Pick<Logger, 'info' | 'error'> },
  config: Config,
  update: (changedAt: number) => Promise<void>,
): void {
  const watcher = target.watcher;
  if (!watcher) return;
  const roots = Object.values(config.input_paths).map((input) => path.resolve(input.path));
  watcher.add(roots);
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  let changedAt = 0;
  const onChange = (changed: string) => {
    if (!isModelFileName(changed) || !roots.some((root) => changed.startsWith(root + path.sep))) return;
    changedAt = Date.now();
    clearTimeout(timer);
    // Debounced: a copy of a large model fires many events; one rerun after it settles.
    timer = setTimeout(() => {
      running = running.then(async () => {
        target.logger.info(`model files changed (${path.basename(changed)}); updating`);
        await update(changedAt).catch((error: unknown) => target.logger.error(error instanceof Error ? error.message : String(error)));
      });
    }, 500);
  };
  watcher.on('add', onChange);
  watcher.on('change', onChange);
  watcher.on('unlink', onChange);
}
