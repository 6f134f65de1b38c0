/**
 * What the loader does to a valid file before handing it over: variable and `~` expansion,
 * path resolution, the API key, output merging, legacy organization keys, and warnings.
 */
import { describe, expect, test } from 'vitest';
import { redactConfig } from '../../src/integration/engine/config/index.ts';
import type { ScanJob, SyncLoraTriggersJob } from '../../src/integration/engine/config/index.ts';
import { configError, HOME, MINIMAL, parse, yaml } from './helpers.ts';

function scanJob(job: unknown): ScanJob {
  if (!job || (job as ScanJob).type !== 'scan-paths') throw new Error('not a scan job');
  return job as ScanJob;
}

describe('environment variables', () => {
  test('${VAR} and $VAR are expanded in string values, recursively, not in keys', () => {
    const { config, warnings } = parse(
      yaml`
        api:
          user_agent: "bot/$VERSION (${'${CONTACT}'})"
        input_paths:
          $LABEL:
            path: ${'${MODELS}'}/Lora
            type: LORA
            patterns: ["*.$EXT", "*.pt"]
      `,
      { VERSION: '2', CONTACT: 'me@example.org', LABEL: 'expanded', MODELS: '/data/models', EXT: 'safetensors' },
    );
    expect(warnings).toEqual([]);
    expect(config.api.user_agent).toBe('bot/2 (me@example.org)');
    expect(Object.keys(config.input_paths)).toEqual(['$LABEL']);
    expect(config.input_paths.$LABEL).toMatchObject({ path: '/data/models/Lora', patterns: ['*.safetensors', '*.pt'] });
  });

  test('an undefined variable stays literal and is reported with its key path and line', () => {
    const { config, warnings } = parse(
      yaml`
        input_paths:
          loras:
            path: /models/Lora
            type: ${'${MODEL_KIND}'}
        jobs:
          daily:
            type: scan-paths
            output:
              metadata:
                html:
                  gallery_title: "$TITLE gallery"
      `,
      {},
    );
    expect(config.input_paths.loras?.type).toBe('${MODEL_KIND}');
    expect(scanJob(config.jobs.daily).output.metadata.html.gallery_title).toBe('$TITLE gallery');
    expect(warnings).toEqual([
      'input_paths.loras.type (line 4): environment variable `MODEL_KIND` is not set, so `${MODEL_KIND}` is kept as literal text',
      'jobs.daily.output.metadata.html.gallery_title (line 11): environment variable `TITLE` is not set, so `$TITLE` is kept as literal text',
    ]);
  });

  test('a variable set to the empty string expands to nothing; %VAR% is not expanded', () => {
    const { config, warnings } = parse(
      yaml`
        api: { user_agent: "a${'${EMPTY}'}b %PATH%" }
        input_paths: { loras: { path: /m, type: LORA } }
      `,
      { EMPTY: '', PATH: '/bin' },
    );
    expect(warnings).toEqual([]);
    expect(config.api.user_agent).toBe('ab %PATH%');
  });

  test('a variable standing for a number or boolean becomes one where the schema wants it', () => {
    const { config } = parse(
      yaml`
        api: { timeout: $TIMEOUT, user_agent: $AGENT }
        input_paths: { loras: { path: /m, type: LORA, recursive: $RECURSE } }
        jobs:
          daily: { type: scan-paths, output: { images: { max_count: "${'${MAX}'}" } } }
      `,
      { TIMEOUT: '45', AGENT: '12345', RECURSE: 'false', MAX: '8' },
    );
    expect(config.api.timeout).toBe(45);
    expect(config.api.user_agent).toBe('12345');
    expect(config.input_paths.loras?.recursive).toBe(false);
    expect(scanJob(config.jobs.daily).output.images.max_count).toBe(8);
  });
});

describe('paths', () => {
  test('~ is expanded and relative paths are resolved against the config folder, in every path key', () => {
    const { config } = parse(
      yaml`
        input_paths:
          home: { path: "~/models/Lora", type: LORA }
          rel: { path: ./models/Checkpoints, type: Checkpoint }
          abs: { path: /mnt/models/../models/emb, type: TextualInversion }
        output:
          base_dir: ~/civit-out
        scanner: { cache_dir: ~/.cache/civitscraper }
        logging: { file: { directory: logs } }
        jobs:
          scan:
            type: scan-paths
            output:
              metadata:
                path: sidecars
                html: { gallery_path: ~/gallery.html, path: "{model_dir}/pages" }
              images: { path: "{model_dir}" }
            organization: { output_dir: ~/organized }
          sync:
            type: sync-lora-triggers
            paths: [home]
            loras_file: ~/krita/loras.json
      `,
    );
    expect(config.input_paths.home?.path).toBe(`${HOME}/models/Lora`);
    expect(config.input_paths.rel?.path).toBe('/srv/library/models/Checkpoints');
    expect(config.input_paths.abs?.path).toBe('/mnt/models/emb');
    expect(config.output?.base_dir).toBe(`${HOME}/civit-out`);
    expect(config.scanner.cache_dir).toBe(`${HOME}/.cache/civitscraper`);
    expect(config.logging.file.directory).toBe('/srv/library/logs');
    const scan = scanJob(config.jobs.scan);
    expect(scan.output.base_dir).toBe(`${HOME}/civit-out`);
    expect(scan.output.metadata.path).toBe('/srv/library/sidecars');
    expect(scan.output.metadata.html.gallery_path).toBe(`${HOME}/gallery.html`);
    // Templates starting with a {placeholder} are left for the engine.
    expect(scan.output.metadata.html.path).toBe('{model_dir}/pages');
    expect(scan.output.images.path).toBe('{model_dir}');
    expect(scan.organization.output_dir).toBe(`${HOME}/organized`);
    expect((config.jobs.sync as SyncLoraTriggersJob).loras_file).toBe(`${HOME}/krita/loras.json`);
  });

  test('defaults are templates or resolved against the config folder', () => {
    const { config } = parse(MINIMAL + 'jobs:\n  daily:\n    type: scan-paths\n');
    expect(config.scanner.cache_dir).toBe('/srv/library/.civitscraper_cache');
    expect(config.logging.file.directory).toBe('/srv/library/logs');
    expect(scanJob(config.jobs.daily).organization.output_dir).toBe('{model_dir}/organized');
    expect(scanJob(config.jobs.daily).output.metadata.path).toBe('{model_dir}');
  });

  test('~ comes from environment expansion too, and ~user is left alone', () => {
    const { config } = parse('input_paths:\n  a: { path: $DIR/x, type: LORA }\n  b: { path: ~other/x, type: LORA }\n', {
      DIR: '~/models',
    });
    expect(config.input_paths.a?.path).toBe(`${HOME}/models/x`);
    expect(config.input_paths.b?.path).toBe('/srv/library/~other/x');
  });
});

describe('API key', () => {
  const withKey = (key: string) => `api:\n  key: ${key}\n${MINIMAL}`;

  test('CIVITAI_API_KEY overrides api.key, even a real-looking one', () => {
    const { config, warnings } = parse(withKey('abc123'), { CIVITAI_API_KEY: 'from-env-456' });
    expect(config.api.key).toBe('from-env-456');
    expect(warnings).toEqual([]);
    expect(parse(MINIMAL, { CIVITAI_API_KEY: 'from-env-456' }).config.api.key).toBe('from-env-456');
  });

  test('the key from the file is used when the variable is unset or blank', () => {
    expect(parse(withKey('abc123'), {}).config.api.key).toBe('abc123');
    expect(parse(withKey('abc123'), { CIVITAI_API_KEY: '  ' }).config.api.key).toBe('abc123');
  });

  test.each([
    ['"YOUR_API_KEY"', 'is still the example placeholder `YOUR_API_KEY`'],
    ['your-api-key', 'is still the example placeholder `your-api-key`'],
    ['""', 'is empty'],
    ['', 'is empty'],
    ['${CIVITAI_TOKEN}', 'refers to an environment variable that is not set'],
  ])('api.key: %s counts as no key, with a warning', (value, reason) => {
    const { config, warnings } = parse(withKey(value), {});
    expect(config.api.key).toBeUndefined();
    expect(warnings.at(-1)).toBe(
      `api.key (line 2): ${reason}: running without an API key (set the CIVITAI_API_KEY environment variable or \`api.key\`; some models and NSFW previews need one)`,
    );
  });

  test('redactConfig hides the key everywhere and leaves the original alone', () => {
    const { config } = parse(`api:\n  key: s3cr3t\n  user_agent: bot-s3cr3t\n${MINIMAL}`);
    const redacted = redactConfig(config) as typeof config;
    expect(redacted.api.key).toBe('***');
    expect(redacted.api.user_agent).toBe('bot-***');
    expect(JSON.stringify(redacted)).not.toContain('s3cr3t');
    expect(config.api.key).toBe('s3cr3t');
    expect((redactConfig(parse(MINIMAL).config) as typeof config).api.key).toBeUndefined();
  });
});

describe('top-level output', () => {
  test('is deep-merged under every scan job, the job winning', () => {
    const { config } = parse(
      yaml`
        input_paths: { loras: { path: /m, type: LORA } }
        output:
          base_dir: /central
          images: { max_count: 2, save: false }
          metadata: { html: { gallery_title: Shared, generate_gallery: false } }
        jobs:
          plain:
            type: scan-paths
          custom:
            type: scan-paths
            output:
              images: { max_count: 10 }
              metadata: { html: { gallery_title: Mine } }
          sync:
            type: sync-lora-triggers
            paths: [loras]
      `,
    );
    const plain = scanJob(config.jobs.plain);
    expect(plain.output.base_dir).toBe('/central');
    expect(plain.output.images).toMatchObject({ max_count: 2, save: false });
    expect(plain.output.metadata.html).toMatchObject({ gallery_title: 'Shared', generate_gallery: false });
    const custom = scanJob(config.jobs.custom);
    expect(custom.output.base_dir).toBe('/central');
    expect(custom.output.images).toMatchObject({ max_count: 10, save: false });
    expect(custom.output.metadata.html).toMatchObject({ gallery_title: 'Mine', generate_gallery: false });
    expect(config.jobs.sync).not.toHaveProperty('output');
    expect(config.output?.images.max_count).toBe(2);
  });

  test('merging happens before validation: a job value can fix nothing in the top level', () => {
    const error = configError(() =>
      parse(
        yaml`
          input_paths: { loras: { path: /m, type: LORA } }
          output: { images: { max_count: lots } }
          jobs:
            a: { type: scan-paths, output: { images: { max_count: 3 } } }
            b: { type: scan-paths }
        `,
      ),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(['output.images.max_count']);
  });
});

describe('organization: defaults and legacy keys', () => {
  const job = (organization: string, defaults = '') =>
    parse(
      `${MINIMAL}${defaults}jobs:\n  daily:\n    type: scan-paths\n    organization: ${organization}\n`,
    );

  test('operation_mode defaults to copy and on_collision to skip', () => {
    const { config } = parse(`${MINIMAL}jobs:\n  daily:\n    type: scan-paths\n`);
    expect(scanJob(config.jobs.daily).organization).toMatchObject({ operation_mode: 'copy', on_collision: 'skip' });
  });

  test('defaults.organization fills in what the job leaves out', () => {
    const defaults = 'defaults:\n  organization:\n    operation_mode: symlink\n    on_collision: overwrite\n';
    expect(scanJob(job('{ enabled: true }', defaults).config.jobs.daily).organization).toMatchObject({
      operation_mode: 'symlink',
      on_collision: 'overwrite',
    });
    expect(scanJob(job('{ operation_mode: move }', defaults).config.jobs.daily).organization).toMatchObject({
      operation_mode: 'move',
      on_collision: 'overwrite',
    });
  });

  test('move_files: true is read as operation_mode: move, with a deprecation warning', () => {
    const { config, warnings } = job('{ enabled: true, move_files: true }');
    const organization = scanJob(config.jobs.daily).organization;
    expect(organization.operation_mode).toBe('move');
    expect(organization).not.toHaveProperty('move_files');
    expect(warnings).toEqual([
      'jobs.daily.organization.move_files (line 8): is deprecated: it is read as `operation_mode: move`; write that instead',
    ]);
  });

  test('create_symlinks: true → symlink; it also beats defaults.organization', () => {
    const defaults = 'defaults:\n  organization:\n    operation_mode: copy\n';
    const { config, warnings } = job('{ create_symlinks: true }', defaults);
    expect(scanJob(config.jobs.daily).organization.operation_mode).toBe('symlink');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^jobs\.daily\.organization\.create_symlinks \(line \d+\): is deprecated: it is read as `operation_mode: symlink`/);
  });

  test("the job's own operation_mode wins over legacy switches, which are then reported as ignored", () => {
    const { config, warnings } = job('{ operation_mode: copy, move_files: true, create_symlinks: false }');
    expect(scanJob(config.jobs.daily).organization.operation_mode).toBe('copy');
    expect(warnings).toEqual([
      'jobs.daily.organization.move_files (line 8): is deprecated and ignored because `operation_mode: copy` is set; remove it',
      'jobs.daily.organization.create_symlinks (line 8): is deprecated and has no effect when false; remove it (use `operation_mode`)',
    ]);
  });

  test('with both legacy switches on, move wins as it did in CivitScraper', () => {
    const { config, warnings } = job('{ move_files: true, create_symlinks: true }');
    expect(scanJob(config.jobs.daily).organization.operation_mode).toBe('move');
    expect(warnings[1]).toMatch(/create_symlinks .*ignored because `move_files: true` is also set/);
  });
});

describe('warnings for unknown and ignored keys', () => {
  test('typos anywhere get the key path, the line and a suggestion', () => {
    const { config, warnings } = parse(
      yaml`
        api:
          time_out: 10
        input_paths:
          loras:
            path: /m
            type: LORA
            pattern: "*.safetensors"
        jobs:
          daily:
            type: scan-paths
            skip-existing: false
            output:
              images:
                max_cuont: 4
        Logging:
          level: DEBUG
        colour: blue
      `,
    );
    expect(warnings).toEqual([
      'api.time_out (line 2): unknown key, ignored — did you mean `timeout`?',
      'input_paths.loras.pattern (line 7): unknown key, ignored — did you mean `patterns`?',
      'jobs.daily.skip-existing (line 11): unknown key, ignored — did you mean `skip_existing`?',
      'jobs.daily.output.images.max_cuont (line 14): unknown key, ignored — did you mean `max_count`?',
      'Logging (line 15): unknown key, ignored — did you mean `logging`?',
      'colour (line 17): unknown key, ignored (known keys here: api, input_paths, default_job, jobs, output, scanner, sources, updates, site, logging, dry_run, defaults)',
    ]);
    // Ignored means ignored: defaults apply.
    expect(config.api.timeout).toBe(30);
    expect(config.logging.level).toBe('INFO');
  });

  test('keys the seed documented but ignored get a specific note', () => {
    const { warnings } = parse(
      yaml`
        input_paths: { loras: { path: /m, type: LORA } }
        output:
          metadata: { format: yaml }
        organization: { enabled: true }
        jobs:
          daily:
            type: scan-paths
            organize: true
            dry_run: true
            scanner: { force_refresh: true }
            organization:
              enabled: true
      `,
    );
    expect(warnings).toEqual([
      'output.metadata.format (line 3): has no effect: metadata sidecars are always JSON (you can delete this line)',
      'organization (line 4): top-level `organization` is not used: put it inside each scan job (`jobs.<name>.organization`); shared `operation_mode`/`on_collision` go in `defaults.organization`',
      'jobs.daily.organize (line 8): has no effect (CivitScraper ignored it too): organizing is switched on with `organization.enabled: true`',
      'jobs.daily.dry_run (line 9): is not supported per job and is ignored: use `--dry-run` on the command line or top-level `dry_run: true` (`organization.dry_run: true` only plans the job\'s organization)',
      'jobs.daily.scanner (line 10): per-job `scanner` settings are not supported and are ignored: set them in the top-level `scanner` section',
    ]);
  });

  test('scanner.version_cache_validity is accepted with a note that it has no effect', () => {
    const { config, warnings } = parse(`${MINIMAL}scanner:\n  cache_validity: 600\n  version_cache_validity: 86400\n`);
    expect(warnings).toEqual([
      'scanner.version_cache_validity (line 7): has no effect: every cached CivitAI answer stays fresh for `scanner.cache_validity` seconds (you can delete this line)',
    ]);
    expect(config.scanner.cache_validity).toBe(600);
    expect(config.scanner).not.toHaveProperty('version_cache_validity');
  });

  test('empty values of optional keys fall back to the default, with a warning for leaves', () => {
    const { config, warnings } = parse(`${MINIMAL}scanner:\nlogging:\n  level:\njobs:\n`);
    expect(config.logging.level).toBe('INFO');
    expect(config.jobs).toEqual({});
    expect(warnings).toEqual(['logging.level (line 7): is empty, so the default is used']);
  });

  test('duplicate keys: the last one wins, as with PyYAML, with a warning', () => {
    const { config, warnings } = parse(`${MINIMAL}api:\n  timeout: 5\n  timeout: 9\n`);
    expect(config.api.timeout).toBe(9);
    expect(warnings).toEqual(['api.timeout (lines 6, 7): the key appears 2 times; the last one wins']);
  });
});

describe('YAML 1.1 compatibility with PyYAML', () => {
  test('yes/no/on/off are booleans and << merge keys work', () => {
    const { config, warnings } = parse(
      yaml`
        input_paths:
          loras: { path: /m, type: LORA, recursive: no }
        common: &common
          type: scan-paths
          skip_existing: off
          output: { images: { max_count: 1 } }
        jobs:
          daily:
            <<: *common
            paths: [loras]
          weekly:
            <<: *common
            force_refresh: yes
      `,
    );
    expect(config.input_paths.loras?.recursive).toBe(false);
    expect(scanJob(config.jobs.daily)).toMatchObject({ skip_existing: false, paths: ['loras'] });
    expect(scanJob(config.jobs.weekly)).toMatchObject({ force_refresh: true, output: { images: { max_count: 1 } } });
    expect(warnings).toEqual([
      'common (line 3): unknown key, ignored (known keys here: api, input_paths, default_job, jobs, output, scanner, sources, updates, site, logging, dry_run, defaults)',
    ]);
  });

  test('a bad value reached through a merge key points at the job using it', () => {
    const error = configError(() =>
      parse(
        yaml`
          input_paths: { loras: { path: /m, type: LORA } }
          x-base: &base { type: scan-paths, verify_hashes: sure }
          jobs:
            daily:
              <<: *base
        `,
      ),
    );
    expect(error.issues).toEqual([{ path: 'jobs.daily.verify_hashes', line: 2, message: 'expected true or false, got "sure"' }]);
  });
});
