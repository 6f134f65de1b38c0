/**
 * Which jobs a run executes: `--job NAME` > `--all-jobs` > `default_job` > the only job > error.
 * A config without any `jobs` still works: it gets one scan job, `default`, over every input path.
 */
import { ConfigError, quoteList, suggest } from './errors.ts';
import { ScanJobSchema } from './schema.ts';
import type { Config, Job, ScanJob } from './schema.ts';

export const DEFAULT_JOB_NAME = 'default';

export interface SelectedJob {
  name: string;
  job: Job;
}

export interface SelectJobsOptions {
  /** A job name (CLI `--job`); wins over `allJobs`, as in CivitScraper. */
  job?: string;
  /** Every job, in file order (CLI `--all-jobs`). */
  allJobs?: boolean;
}

/**
 * The scan job used when the config defines no jobs: every input path, the top-level `output`,
 * `defaults.organization` (organization itself stays off).
 */
export function defaultScanJob(config: Config): ScanJob {
  const defaults = config.defaults?.organization;
  return ScanJobSchema.parse({
    type: 'scan-paths',
    description: 'Scan every input path (no jobs are defined in the config)',
    paths: Object.keys(config.input_paths),
    output: config.output ?? {},
    organization: {
      operation_mode: defaults?.operation_mode ?? 'copy',
      on_collision: defaults?.on_collision ?? 'skip',
    },
  });
}

export function selectJobs(config: Config, options: SelectJobsOptions = {}): SelectedJob[] {
  const entries = Object.entries(config.jobs);
  const names = entries.map(([name]) => name);
  const fallback = (): SelectedJob[] => [{ name: DEFAULT_JOB_NAME, job: defaultScanJob(config) }];

  if (options.job !== undefined) {
    const job = config.jobs[options.job];
    if (job) return [{ name: options.job, job }];
    if (entries.length === 0 && options.job === DEFAULT_JOB_NAME) return fallback();
    throw unknownJob(options.job, names);
  }
  if (options.allJobs) return entries.length > 0 ? entries.map(([name, job]) => ({ name, job })) : fallback();
  if (config.default_job !== undefined) {
    const job = config.jobs[config.default_job];
    if (job) return [{ name: config.default_job, job }];
    throw new ConfigError('CONFIG_JOB', `default_job names the job "${config.default_job}", which is not defined. ${known(names)}`, {
      issues: [{ path: 'default_job', message: `unknown job "${config.default_job}"` }],
    });
  }
  if (entries.length === 0) return fallback();
  const [only] = entries;
  if (entries.length === 1 && only) return [{ name: only[0], job: only[1] }];
  throw new ConfigError(
    'CONFIG_JOB',
    `Several jobs are defined and no default_job is set: choose one with --job NAME, run them all with --all-jobs, or set default_job. ${known(names)}`,
    { issues: [{ path: 'default_job', message: 'not set, and there is more than one job' }] },
  );
}

function known(names: readonly string[]): string {
  return names.length > 0
    ? `Known jobs: ${quoteList(names)}.`
    : `The config defines no jobs; without --job, the \`${DEFAULT_JOB_NAME}\` job scans every input path.`;
}

function unknownJob(name: string, names: readonly string[]): ConfigError {
  const match = suggest(name, names);
  const hint = match === undefined ? '.' : ` — did you mean \`${match}\`?`;
  return new ConfigError('CONFIG_JOB', `Unknown job "${name}"${hint} ${known(names)}`, {
    issues: [{ path: `jobs.${name}`, message: 'not defined' }],
  });
}
