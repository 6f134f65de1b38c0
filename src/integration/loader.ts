/**
 * The content-layer loader: a thin adapter that runs the engine and stores one `models` entry
 * per model file. In `astro dev` it watches the input paths and reruns on add/change/unlink.
 */
import type { Loader, LoaderContext } from 'astro/loaders';
import { AstroUserError } from 'astro/errors';
import path from 'node:path';
import { ConfigError, loadConfig, selectJobs } from './config/index.ts';
import type { Config } from './config/schema.ts';
import { runScanJob } from './engine/run.ts';
import { toEntryData } from './records/entry.ts';
import { ModelRecordSchema, type ModelRecord } from './records/schema.ts';
import type { Logger } from './util/logger.ts';
import { redactingLogger } from './util/logger.ts';

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
      const { config, warnings } = await loadOrExplain(options);
      for (const warning of warnings) context.logger.warn(warning);
      await syncRecords(context, config, options);
      if (context.watcher) watchInputPaths(context, config, options);
    },
  };
}

export async function loadOrExplain(options: CivitscraperLoaderOptions) {
  try {
    return await loadConfig({ configPath: options.configPath ?? process.env.CIVITSCRAPER_CONFIG });
  } catch (error) {
    if (error instanceof ConfigError) {
      const hint =
        error.code === 'CONFIG_NOT_FOUND'
          ? 'Run `npm run demo` to build the gallery of the bundled sample library, or create civitscraper.yaml (see README).'
          : 'Fix the key named above, then run the build again.';
      throw new AstroUserError(error.message, hint);
    }
    throw error;
  }
}

async function syncRecords(context: LoaderContext, config: Config, options: CivitscraperLoaderOptions): Promise<void> {
  const logger: Logger = redactingLogger(context.logger, [config.api.key]);
  const jobs = selectJobs(config, { job: options.job ?? process.env.CIVITSCRAPER_JOB }).filter(
    (selected) => selected.job.type === 'scan-paths',
  );
  const records = new Map<string, ModelRecord>();
  for (const { name, job } of jobs) {
    if (job.type !== 'scan-paths') continue;
    const { records: found, report } = await runScanJob({ config, jobName: name, job, logger });
    for (const entry of report.errors) logger.warn(`${entry.stage}: ${entry.path}: ${entry.message}`);
    for (const record of found) if (!records.has(record.id)) records.set(record.id, record);
  }

  for (const record of records.values()) {
    const data = await context.parseData({ id: record.id, data: toEntryData(record) });
    context.store.set({ id: record.id, data, digest: context.generateDigest(data) });
  }
  for (const id of context.store.keys()) {
    if (!records.has(id)) context.store.delete(id);
  }
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
