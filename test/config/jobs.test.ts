/** Choosing the jobs to run: --job, --all-jobs, default_job, and configs without jobs. */
import { describe, expect, test } from 'vitest';
import { DEFAULT_JOB_NAME, selectJobs } from '../../src/integration/engine/config/index.ts';
import { configError, parse, yaml } from './helpers.ts';

const { config } = parse(
  yaml`
    input_paths:
      loras: { path: /m/Lora, type: LORA }
      checkpoints: { path: /m/SD, type: Checkpoint }
    default_job: weekly
    jobs:
      daily: { type: scan-paths, paths: [loras] }
      weekly: { type: scan-paths, paths: [loras, checkpoints] }
      krita: { type: sync-lora-triggers, paths: [loras] }
  `,
);

describe('selectJobs', () => {
  test('a named job wins over --all-jobs', () => {
    const selected = selectJobs(config, { job: 'daily', allJobs: true });
    expect(selected.map((entry) => entry.name)).toEqual(['daily']);
    expect(selected[0]?.job).toBe(config.jobs.daily);
  });

  test('--all-jobs runs every job in file order', () => {
    expect(selectJobs(config, { allJobs: true }).map((entry) => entry.name)).toEqual(['daily', 'weekly', 'krita']);
  });

  test('default_job when nothing is named', () => {
    expect(selectJobs(config, {}).map((entry) => entry.name)).toEqual(['weekly']);
    expect(selectJobs(config).map((entry) => entry.name)).toEqual(['weekly']);
  });

  test('an unknown job is CONFIG_JOB, listing the known jobs and a suggestion', () => {
    const error = configError(() => selectJobs(config, { job: 'dayly' }));
    expect(error.code).toBe('CONFIG_JOB');
    expect(error.message).toBe('Unknown job "dayly" — did you mean `daily`? Known jobs: `daily`, `weekly`, `krita`.');
    expect(error.issues).toEqual([{ path: 'jobs.dayly', message: 'not defined' }]);
  });

  test('one job and no default_job: that job', () => {
    const single = parse('input_paths: { a: { path: /a, type: LORA } }\njobs:\n  only: { type: scan-paths }\n').config;
    expect(selectJobs(single, {}).map((entry) => entry.name)).toEqual(['only']);
  });

  test('several jobs and no default_job: CONFIG_JOB explaining the choices', () => {
    const several = parse(
      'input_paths: { a: { path: /a, type: LORA } }\njobs:\n  one: { type: scan-paths }\n  two: { type: scan-paths }\n',
    ).config;
    const error = configError(() => selectJobs(several, {}));
    expect(error.code).toBe('CONFIG_JOB');
    expect(error.message).toContain('--job NAME');
    expect(error.message).toContain('Known jobs: `one`, `two`.');
    expect(selectJobs(several, { allJobs: true })).toHaveLength(2);
  });

  test('no jobs at all: a default scan job over every input path, with the shared output', () => {
    const bare = parse(
      yaml`
        input_paths:
          loras: { path: /m/Lora, type: LORA }
          checkpoints: { path: /m/SD, type: Checkpoint }
        output: { base_dir: /central, images: { max_count: 1 } }
        defaults: { organization: { operation_mode: symlink } }
      `,
    ).config;
    for (const options of [{}, { allJobs: true }, { job: DEFAULT_JOB_NAME }]) {
      const selected = selectJobs(bare, options);
      expect(selected).toHaveLength(1);
      expect(selected[0]?.name).toBe('default');
      const job = selected[0]?.job;
      if (job?.type !== 'scan-paths') throw new Error('expected a scan job');
      expect(job.paths).toEqual(['loras', 'checkpoints']);
      expect(job.output.base_dir).toBe('/central');
      expect(job.output.images.max_count).toBe(1);
      expect(job.organization).toMatchObject({ enabled: false, operation_mode: 'symlink', on_collision: 'skip' });
      expect(job.skip_existing).toBe(true);
    }
    const error = configError(() => selectJobs(bare, { job: 'daily' }));
    expect(error.code).toBe('CONFIG_JOB');
    expect(error.message).toBe(
      'Unknown job "daily". The config defines no jobs; without --job, the `default` job scans every input path.',
    );
  });
});
