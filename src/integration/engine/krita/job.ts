/**
 * The `sync-lora-triggers` job: records from the existing sidecars (no network), then the sync.
 */
import { homedir } from 'node:os';
import { createOfflineClient } from '../civitai/client.ts';
import { ScanJobSchema, type Config, type ScanJob, type SyncLoraTriggersJob } from '../config/schema.ts';
import { runScanJob } from '../run.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { findKritaLorasFile, kritaLorasFileCandidates } from './locate.ts';
import { KritaSyncError, syncKritaTriggers, type KritaSyncReport } from './sync.ts';
import type { MergePolicy } from './triggers.ts';

/** merge_policy when set; else the seed's overwrite_triggers (true → replace, false → fill-empty); else fill-empty. */
export function resolveMergePolicy(job: Pick<SyncLoraTriggersJob, 'merge_policy' | 'overwrite_triggers'>): MergePolicy {
  if (job.merge_policy) return job.merge_policy;
  if (job.overwrite_triggers === true) return 'replace';
  return 'fill-empty';
}

export interface SyncLoraTriggersJobOptions {
  config: Config;
  jobName: string;
  job: SyncLoraTriggersJob;
  logger?: Logger;
  /** Defaults to the config's `dry_run`. */
  dryRun?: boolean;
  /** Write even when Krita changed the file after it was read. */
  force?: boolean;
  /** Where to look for `loras.json` when the job has no `loras_file` (tests). */
  locate?: { platform?: NodeJS.Platform; env?: Record<string, string | undefined>; homeDir?: string };
}

/**
 * Sidecars are found through an output layout: the one of a scan job over the same input paths
 * (the loader has merged the top-level `output` into it), else the top-level `output`.
 */
function outputFor(config: Config, job: SyncLoraTriggersJob): ScanJob['output'] | undefined {
  const ours = job.paths ?? Object.keys(config.input_paths);
  for (const other of Object.values(config.jobs)) {
    if (other.type !== 'scan-paths') continue;
    const theirs = other.paths ?? Object.keys(config.input_paths);
    if (ours.some((id) => theirs.includes(id))) return other.output;
  }
  return config.output;
}

export async function runSyncLoraTriggersJob(options: SyncLoraTriggersJobOptions): Promise<KritaSyncReport> {
  const { config, job, jobName } = options;
  const logger = options.logger ?? silentLogger;
  const platform = options.locate?.platform ?? process.platform;
  const env = options.locate?.env ?? process.env;
  const home = options.locate?.homeDir ?? homedir();
  const lorasFile = job.loras_file ?? (await findKritaLorasFile(platform, env, home));
  if (!lorasFile) {
    const looked = kritaLorasFileCandidates(platform, env, home).join(', ');
    throw new KritaSyncError(`job "${jobName}": no Krita AI Diffusion loras.json found (looked in ${looked}); set loras_file`);
  }
  const scanJob = ScanJobSchema.parse({
    type: 'scan-paths',
    description: `records for ${jobName}`,
    ...(job.paths ? { paths: job.paths } : {}),
    ...(job.recursive !== undefined ? { recursive: job.recursive } : {}),
    use_cached_metadata: true,
    output: outputFor(config, job) ?? {},
  });
  const { records } = await runScanJob({ config, jobName, job: scanJob, logger, dryRun: true, client: createOfflineClient('sync-lora-triggers works offline; no CivitAI request is made') });
  const policy = resolveMergePolicy(job);
  logger.info(`krita: ${records.length} local files, policy ${policy}, file ${lorasFile}`);
  return syncKritaTriggers({
    lorasFile,
    records,
    policy,
    ...(job.write_strength !== undefined ? { strength: job.write_strength } : {}),
    dryRun: options.dryRun ?? config.dry_run,
    force: options.force ?? false,
    logger,
  });
}
