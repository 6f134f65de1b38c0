/**
 * Friendly errors: every kind of broken file names the file, the dotted key path, the YAML line,
 * what was expected and what was found.
 */
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/integration/engine/config/index.ts';
import { configError, configErrorAsync, FIXTURES, HOME, parse, yaml } from './helpers.ts';

async function loadFixture(name: string) {
  const file = path.join(FIXTURES, name);
  const error = await configErrorAsync(loadConfig({ configPath: file, env: {}, homeDir: HOME, cwd: FIXTURES }));
  const [header] = error.message.split('\n');
  expect(header).toContain(file);
  expect(error.file).toBe(file);
  return error;
}

describe('broken config files', () => {
  test('YAML syntax error: code CONFIG_YAML with line and column', async () => {
    const error = await loadFixture('bad-yaml.yaml');
    expect(error.code).toBe('CONFIG_YAML');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ path: '', line: 7, column: 1 });
    expect(error.issues[0]?.message).toMatch(/Missing closing "quote/);
    expect(error.message.split('\n')[1]).toBe('  - line 7, column 1: Missing closing "quote');
  });

  test('YAML syntax error inline: tabs and unclosed flow sequences', () => {
    const tabs = configError(() => parse('input_paths:\n\tloras: {}\n'));
    expect(tabs.code).toBe('CONFIG_YAML');
    expect(tabs.issues[0]).toMatchObject({ line: 2, column: 1 });
    expect(tabs.issues[0]?.message).toContain('indent with spaces');
    const flow = configError(() => parse('jobs:\n  a:\n    paths: [loras\n'));
    expect(flow.code).toBe('CONFIG_YAML');
    expect(flow.message).toContain('/srv/library/civitscraper.yaml');
  });

  test('an invalid file also lists its unknown keys: a misspelt key is often why a value is missing', () => {
    const error = configError(() => parse('input_pathz:\n  loras: { path: /m, type: LORA }\n'));
    expect(error.code).toBe('CONFIG_INVALID');
    const [, ...rest] = error.message.split('\n');
    expect(rest.join('\n')).toMatch(/input_paths/);
    expect(error.message).toContain('Also noted:');
    expect(error.message).toMatch(/input_pathz \(line 1\): unknown key, ignored — did you mean `input_paths`\?/);
  });

  test('empty file', async () => {
    const error = await loadFixture('bad-empty.yaml');
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toEqual([
      {
        path: 'input_paths',
        message:
          'the file is empty (or only has comments) — a config needs at least `input_paths`, e.g. `input_paths: { loras: { path: ~/models/Lora, type: LORA } }`',
      },
    ]);
    // Only comments counts as empty too.
    expect(configError(() => parse('# api:\n#   key: x\n')).issues[0]?.path).toBe('input_paths');
  });

  test('top level is not a mapping', async () => {
    const error = await loadFixture('bad-top-level-list.yaml');
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toEqual([
      { path: '', line: 1, message: 'expected a mapping of sections (`api:`, `input_paths:`, `jobs:` …), got a list' },
    ]);
    expect(configError(() => parse('just some text\n')).issues[0]?.message).toMatch(/got "just some text"$/);
  });

  test('missing input_paths, with a hint about the typo `input_path`', async () => {
    const error = await loadFixture('bad-no-input-paths.yaml');
    expect(error.issues).toEqual([
      {
        path: 'input_paths',
        message:
          'missing — list the model folders to scan, e.g. `input_paths: { loras: { path: ~/models/Lora, type: LORA } }` (found `input_path` — a typo?)',
      },
    ]);
  });

  test('an input path without `path`', async () => {
    const error = await loadFixture('bad-input-path-no-path.yaml');
    expect(error.issues).toEqual([
      { path: 'input_paths.loras.path', line: 2, message: 'missing — every input path needs `path:`, the folder to scan' },
    ]);
    expect(error.message).toContain('input_paths.loras.path (line 2): missing');
  });

  test('wrong types: text where a number or a boolean is expected', async () => {
    const error = await loadFixture('bad-types.yaml');
    expect(error.issues).toEqual([
      { path: 'api.timeout', line: 2, message: 'expected a number > 0, got "soon"' },
      { path: 'jobs.daily.skip_existing', line: 11, message: 'expected true or false, got "maybe"' },
      { path: 'jobs.daily.output.images.max_count', line: 14, message: 'expected a whole number ≥ 0, got "four"' },
    ]);
    expect(error.message).toContain(
      '  - jobs.daily.output.images.max_count (line 14): expected a whole number ≥ 0, got "four"',
    );
    expect(error.message.split('\n')[0]).toMatch(/\(3 problems\):$/);
  });

  test('bad enum values list what is allowed', async () => {
    const error = await loadFixture('bad-enum.yaml');
    expect(error.issues).toEqual([
      {
        path: 'jobs.organize.organization.operation_mode',
        line: 10,
        message: 'expected one of `symlink`, `copy`, `move`, `hardlink`, got "teleport"',
      },
      {
        path: 'jobs.organize.organization.on_collision',
        line: 11,
        message: 'expected one of `skip`, `overwrite`, `fail`, got "explode"',
      },
    ]);
  });

  test('bad enum with a close match suggests it', () => {
    const error = configError(() =>
      parse(yaml`
        input_paths: { loras: { path: /m, type: LORA } }
        jobs:
          a:
            type: scan-paths
            organization: { template: by_typ }
      `),
    );
    expect(error.issues[0]?.path).toBe('jobs.a.organization.template');
    expect(error.issues[0]?.message).toMatch(/got "by_typ" — did you mean `by_type`\?$/);
  });

  test('api.base_url that is not a URL', async () => {
    const error = await loadFixture('bad-url.yaml');
    expect(error.issues).toEqual([
      {
        path: 'api.base_url',
        line: 2,
        message: 'expected an http(s) URL such as `https://civitai.com/api/v1`, got "civitai.com/api/v1"',
      },
    ]);
  });

  test('jobs with an unknown or missing type list the allowed types', async () => {
    const error = await loadFixture('bad-job-type.yaml');
    expect(error.issues).toEqual([
      { path: 'jobs.daily.type', line: 7, message: 'unknown job type "scan"; expected one of `scan-paths`, `sync-lora-triggers`' },
      {
        path: 'jobs.sync.type',
        line: 9,
        message:
          'unknown job type "sync-lora-trigger"; expected one of `scan-paths`, `sync-lora-triggers` — did you mean `sync-lora-triggers`?',
      },
      {
        path: 'jobs.nameless.type',
        line: 11,
        message: 'missing — every job needs `type:`, one of `scan-paths`, `sync-lora-triggers`',
      },
    ]);
  });

  test('`paths` naming an unknown input path lists the known ids', async () => {
    const error = await loadFixture('bad-paths-ref.yaml');
    expect(error.issues).toEqual([
      {
        path: 'jobs.daily.paths[1]',
        line: 11,
        message: 'unknown input path "lora"; known input path ids: `loras`, `checkpoints` — did you mean `loras`?',
      },
      {
        path: 'jobs.daily.paths[2]',
        line: 11,
        message: 'unknown input path "embeddings"; known input path ids: `loras`, `checkpoints`',
      },
    ]);
  });

  test('default_job naming an unknown job', async () => {
    const error = await loadFixture('bad-default-job.yaml');
    expect(error.issues).toEqual([
      {
        path: 'default_job',
        line: 5,
        message: 'names the job "dayly", which is not defined; known jobs: `daily` — did you mean `daily`?',
      },
    ]);
    const noJobs = configError(() => parse('input_paths: { loras: { path: /m, type: LORA } }\ndefault_job: daily\n'));
    expect(noJobs.issues[0]?.message).toMatch(/but the file defines no jobs/);
  });

  test('a bad value in the top-level output is reported once, where it is written', async () => {
    const error = await loadFixture('bad-top-output.yaml');
    expect(error.issues).toEqual([
      { path: 'output.images.max_count', line: 7, message: 'expected a whole number ≥ 0, got -1' },
    ]);
  });

  test('sections of the wrong shape, empty required values and empty lists', () => {
    const error = configError(() =>
      parse(yaml`
        api: https://civitai.com/api/v1
        input_paths:
          loras:
            path:
            type: LORA
            patterns: []
          empty: {}
        jobs:
          daily:
            type: scan-paths
            paths: loras
          later:
      `),
    );
    expect(error.issues).toEqual([
      { path: 'api', line: 1, message: 'expected a mapping (indented `key: value` lines), got "https://civitai.com/api/v1"' },
      { path: 'input_paths.loras.path', line: 4, message: 'expected non-empty text, got an empty value' },
      {
        path: 'input_paths.loras.patterns',
        line: 6,
        message: 'needs at least one entry, got an empty list',
      },
      { path: 'input_paths.empty.path', line: 7, message: 'missing — every input path needs `path:`, the folder to scan' },
      {
        path: 'input_paths.empty.type',
        line: 7,
        message: 'missing — every input path needs `type:`, a label such as LORA or Checkpoint',
      },
      { path: 'jobs.daily.paths', line: 11, message: 'expected a list of names, e.g. [loras, checkpoints], got "loras"' },
      {
        path: 'jobs.later',
        line: 12,
        message: 'expected a mapping with `type:` set to one of `scan-paths`, `sync-lora-triggers`, got an empty value',
      },
    ]);
  });

  test('all problems of a file are reported together, sorted by line, one line each', () => {
    const error = configError(() =>
      parse(yaml`
        logging:
          level: verbose
        input_paths:
          loras: { path: /m, type: LORA }
        scanner:
          cache_validity: -5
      `),
    );
    const lines = error.message.split('\n');
    expect(lines).toEqual([
      'Invalid config in /srv/library/civitscraper.yaml (2 problems):',
      '  - logging.level (line 2): expected one of `DEBUG`, `INFO`, `WARNING`, `WARN`, `ERROR`, `CRITICAL`, got "verbose"',
      '  - scanner.cache_validity (line 6): expected a number ≥ 0, got -5',
    ]);
    expect(error.stack === undefined || !error.message.includes('    at ')).toBe(true);
  });
});
