/**
 * The content-layer loader: a thin adapter that runs the engine and stores one `models` entry
 * per model file. In `astro dev` it watches the input paths and reruns on add/change/unlink.
 */
import type { Loader, LoaderContext } from 'astro/loaders';
import { AstroError } from 'astro/errors';
import path from 'node:path';
import { ConfigError, loadConfig, selectJobs, type LoadedConfig } from './engine/config/index.ts';
import type { Config, ScanJob } from './engine/config/schema.ts';
import { runScanJob } from './engine/run.ts';
import { ModelRecordSchema, type ModelRecord } from './engine/records/schema.ts';
import { splitForSite, writeSiteDetails, type ModelDetails } from './site/details.ts';
import { siteDetailsDir } from './site/settings.ts';
import type { Logger } from './engine/util/logger.ts';
import { redactingLogger } from './engine/util/logger.ts';

export interface CivitscraperLoaderOptions {
  /** Config file; defaults to the usual lookup (CIVITSCRAPER_CONFIG, ./civitscraper.yaml, …). */
  configPath?: string;
  /** Scan job to run; defaults to `default_job` (or the first scan job). */
  job?: string;
}

export function civitscraperLoader(options: CivitscraperLoaderOptions = {}): Loader {
  return {
    name: 'civitscraper',
    schema: ModelRecordSchema,
    async load(context) {
      const loaded = await loadOrExplain(options, { tolerateMissing: isSyncOnly() });
      if (!loaded) {
        context.logger.warn('no CivitScraper config found: the models collection is empty (fine for `astro check` / `astro sync`).');
        context.store.clear();
        return;
      }
      const { config, warnings } = loaded;
      for (const warning of warnings) context.logger.warn(warning);
      await syncRecords(context, config, options);
      if (context.watcher) watchInputPaths(context, config, options);
    },
  };
}

/**
 * `astro check` and `astro sync` only need types: on a fresh clone without a config they must
 * not fail. The integration records the command here; a process-wide symbol because Astro
 * loads the integration and the content config as separate module instances.
 */
const COMMAND = Symbol.for('civitscraper.astroCommand');

export function rememberAstroCommand(command: string): void {
  (globalThis as Record<symbol, unknown>)[COMMAND] = command;
}

function isSyncOnly(): boolean {
  return (globalThis as Record<symbol, unknown>)[COMMAND] === 'sync';
}

export async function loadOrExplain(
  options: CivitscraperLoaderOptions,
  { tolerateMissing = false }: { tolerateMissing?: boolean } = {},
): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfig({ configPath: options.configPath });
  } catch (error) {
    if (error instanceof ConfigError && error.code === 'CONFIG_NOT_FOUND' && tolerateMissing) return undefined;
    if (error instanceof ConfigError) {
      const hint =
        error.code === 'CONFIG_NOT_FOUND'
          ? 'Run `npm run demo` to build the gallery of the bundled sample library, or create civitscraper.yaml (see README).'
          : 'Fix the key named above, then run the build again.';
      const friendly = new AstroError(error.message, hint);
      // The message says everything; a stack trace into our loader would only bury it.
      friendly.stack = '';
      throw friendly;
    }
    throw error;
  }
}

async function syncRecords(context: LoaderContext, config: Config, options: CivitscraperLoaderOptions): Promise<void> {
  const logger: Logger = redactingLogger(context.logger, [config.api.key]);
  const records = new Map<string, ModelRecord>();
  for (const { name, job } of siteScanJobs(config, options)) {
    const { records: found, report } = await runScanJob({ config, jobName: name, job, logger });
    for (const entry of report.errors) logger.warn(`${entry.stage}: ${entry.path}: ${entry.message}`);
    for (const record of found) if (!records.has(record.id)) records.set(record.id, record);
  }

  const details: { id: string; details: ModelDetails }[] = [];
  for (const record of records.values()) {
    const parts = splitForSite(record);
    details.push({ id: record.id, details: parts.details });
    const data = await context.parseData({ id: record.id, data: parts.entry as unknown as Record<string, unknown> });
    // The page renders from both halves: a change in either must change the digest.
    context.store.set({ id: record.id, data, digest: context.generateDigest({ data, details: parts.details }) });
  }
  await writeSiteDetails(siteDetailsDir(config), details);
  for (const id of context.store.keys()) {
    if (!records.has(id)) context.store.delete(id);
  }
}

/**
 * The scan jobs the site is built from: the named job, else `default_job`, else every scan job
 * (a config with several jobs and no default still gets a gallery of the whole library).
 */
export function siteScanJobs(config: Config, options: CivitscraperLoaderOptions): { name: string; job: ScanJob }[] {
  const job = options.job ?? process.env.CIVITSCRAPER_JOB;
  const selected = selectJobs(config, { job, allJobs: job === undefined && config.default_job === undefined });
  return selected.flatMap((entry) => (entry.job.type === 'scan-paths' ? [{ name: entry.name, job: entry.job }] : []));
}

const MODEL_EXTENSIONS = /\.(safetensors|ckpt|pt|pth|bin|gguf)$/i;

function watchInputPaths(context: LoaderContext, config: Config, options: CivitscraperLoaderOptions): void {
  const watcher = context.watcher;
  if (!watcher) return;
  const roots = Object.values(config.input_paths).map((input) => path.resolve(input.path));
  watcher.add(roots);
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const onChange = (changed: string) => {
    if (!MODEL_EXTENSIONS.test(changed) || !roots.some((root) => changed.startsWith(root + path.sep))) return;
    clearTimeout(timer);
    // Debounced: a copy of a large model fires many events; one rerun after it settles.
    timer = setTimeout(() => {
      running = running.then(async () => {
        context.logger.info(`model files changed (${path.basename(changed)}); updating`);
        await syncRecords(context, config, options).catch((error: unknown) =>
          context.logger.error(error instanceof Error ? error.message : String(error)),
        );
      });
    }, 500);
  };
  watcher.on('add', onChange);
  watcher.on('change', onChange);
  watcher.on('unlink', onChange);
}
