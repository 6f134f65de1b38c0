/**
 * Templates and targets are checked when the file is loaded: a mistake stops the run (exit 2)
 * with file, key and line, instead of creating junk folders in every model folder, writing every
 * sidecar into one folder, or organizing into `/`. Also: `max_count: null` and the inert keys.
 */
import { describe, expect, test } from 'vitest';
import type { ScanJob } from '../../src/integration/engine/config/index.ts';
import { resolveSidecarLayout } from '../../src/integration/engine/sidecars/paths.ts';
import { configError, HOME, MINIMAL, parse, yaml } from './helpers.ts';

const job = (config: { jobs: Record<string, unknown> }, name = 'daily') => config.jobs[name] as ScanJob;

/** A config whose one scan job has `body` (YAML, indented under the job). */
function withJob(body: string): string {
  const indented = body
    .split('\n')
    .map((line) => (line.trim() === '' ? line : `    ${line}`))
    .join('\n');
  return `${MINIMAL}jobs:\n  daily:\n    type: scan-paths\n${indented}\n`;
}

describe('sidecar templates (output.metadata.path/filename, output.images.path/filenames.preview)', () => {
  test('`{../}` in a file name is an error naming key and line, not a `{..` folder in every model folder', () => {
    const error = configError(() => parse(withJob('output:\n  metadata:\n    filename: "{../}{model_name}.json"')));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ path: 'jobs.daily.output.metadata.filename', line: 10 });
    expect(error.issues[0]?.message).toMatch(/`\{\.\.\/\}`/);
    expect(error.issues[0]?.message).toMatch(/climb|outside/);
    expect(error.message.split('\n')[0]).toContain('/srv/library/civitscraper.yaml');
  });

  test('an unknown placeholder is an error with a suggestion (not a literal folder name)', () => {
    const error = configError(() => parse(withJob('output:\n  images:\n    path: "{model_dir}/{model_nme}"')));
    expect(error.issues).toEqual([
      {
        path: 'jobs.daily.output.images.path',
        line: 10,
        message: expect.stringMatching(/unknown placeholder `\{model_nme\}`.*did you mean `\{model_name\}`\?/),
      },
    ]);
    // The message lists what is allowed there.
    expect(error.issues[0]?.message).toContain('{model_dir}');
  });

  test('`..` segments and absolute file names are refused', () => {
    for (const [key, value] of [
      ['metadata:\n    path', '"{model_dir}/../meta"'],
      ['metadata:\n    filename', '"../{model_name}.json"'],
      ['metadata:\n    filename', '"/tmp/{model_name}.json"'],
      ['metadata:\n    filename', '"{model_dir}/{model_name}.json"'],
      ['images:\n    filenames:\n      preview', '"..\\\\{model_name}.preview{ext}"'],
      ['images:\n    filenames:\n      preview', '"C:\\\\x\\\\{model_name}{ext}"'],
    ] as const) {
      const error = configError(() => parse(withJob(`output:\n  ${key}: ${value}`)));
      expect(error.issues, `${key}: ${value}`).toHaveLength(1);
      expect(error.issues[0]?.message, `${key}: ${value}`).toMatch(/climb|outside|absolute|relative/);
    }
  });

  test('the preview name knows {ext} and {image_type}; the metadata name does not know {ext}', () => {
    const { config } = parse(withJob('output:\n  images:\n    filenames:\n      preview: "{model_type}-{model_name}.{image_type}{ext}"'));
    expect(job(config).output.images.filenames.preview).toBe('{model_type}-{model_name}.{image_type}{ext}');
    const error = configError(() => parse(withJob('output:\n  metadata:\n    filename: "{model_name}{ext}"')));
    expect(error.issues[0]).toMatchObject({ path: 'jobs.daily.output.metadata.filename' });
    expect(error.issues[0]?.message).toMatch(/unknown placeholder `\{ext\}`/);
  });

  test('`{model_type}` (the input path label) fills one folder name: a `/` in the label adds no level', () => {
    const { config } = parse(
      yaml`
        input_paths: { xl: { path: /models/xl, type: "LORA/../XL" } }
        output: { images: { path: "{model_dir}/{model_type}" } }
      `,
    );
    const output = config.output!;
    const file = { path: '/models/xl/a.safetensors', inputPathId: 'xl', inputType: 'LORA/../XL', relativePath: 'a.safetensors', folder: '', name: 'a.safetensors', stem: 'a', ext: '.safetensors', size: 1, mtimeMs: 1 };
    expect(resolveSidecarLayout(file, output).imagesDir).toBe('/models/xl/LORA_.._XL');
  });

  test('a broken template in the top-level output is reported once, where it is written', () => {
    const text = yaml`
      input_paths: { loras: { path: /m, type: LORA } }
      output:
        metadata: { filename: "{model_name}.{jsn" }
      jobs:
        a: { type: scan-paths }
        b: { type: scan-paths }
    `;
    const error = configError(() => parse(text));
    expect(error.issues).toEqual([{ path: 'output.metadata.filename', line: 3, message: expect.stringMatching(/`\{` without a closing `\}`/) }]);
  });

  test('the seed defaults and its example templates load without a word', () => {
    const { warnings } = parse(
      withJob(
        [
          'output:',
          '  metadata: { format: json, path: "{model_dir}", filename: "{model_name}.json" }',
          '  images: { path: "{model_dir}/previews/{model_type}", filenames: { preview: "{model_name}.preview{ext}" } }',
          'organization: { custom_template: "{type}/{base_model}" }',
        ].join('\n'),
      ),
    );
    expect(warnings).toEqual([]);
  });
});

describe('a sidecar folder outside the model folder needs output.base_dir', () => {
  // Refused rather than silently laid out differently: see the comment in config/templates.ts.
  test('an absolute output.metadata.path without base_dir is refused, telling to set base_dir', () => {
    const error = configError(() => parse(withJob('output:\n  metadata:\n    path: /data/sidecars')));
    expect(error.issues).toEqual([
      { path: 'jobs.daily.output.metadata.path', line: 10, message: expect.stringMatching(/output\.base_dir/) },
    ]);
    expect(error.issues[0]?.message).toMatch(/overwrite/);
  });

  test('same for output.images.path, and for a relative folder (it is relative to the config file)', () => {
    const images = configError(() => parse(withJob('output:\n  images:\n    path: "~/previews/{model_type}"')));
    expect(images.issues[0]).toMatchObject({ path: 'jobs.daily.output.images.path', message: expect.stringMatching(/base_dir/) });
    const relative = configError(() => parse(withJob('output:\n  metadata:\n    path: sidecars/{model_name}')));
    expect(relative.issues[0]).toMatchObject({ path: 'jobs.daily.output.metadata.path', message: expect.stringMatching(/base_dir/) });
  });

  test('with base_dir set the folder templates are not used: accepted, with a note that they have no effect', () => {
    const { config, warnings } = parse(withJob('output:\n  base_dir: ~/central\n  metadata:\n    path: /data/sidecars'));
    expect(job(config).output.base_dir).toBe(`${HOME}/central`);
    expect(warnings).toEqual([
      expect.stringMatching(/^jobs\.daily\.output\.metadata\.path \(line 11\): has no effect.*base_dir/),
    ]);
  });

  test('a config without jobs: the top-level output is the default job’s', () => {
    const error = configError(() => parse(`${MINIMAL}output:\n  metadata:\n    path: /data/sidecars\n`));
    expect(error.issues[0]).toMatchObject({ path: 'output.metadata.path', line: 7 });
  });
});

describe('organization templates and targets', () => {
  test('custom_template: unknown placeholders (with a suggestion), `..` and absolute paths are errors', () => {
    const unknown = configError(() => parse(withJob('organization:\n  custom_template: "{type}/{creater}"')));
    expect(unknown.issues).toEqual([
      {
        path: 'jobs.daily.organization.custom_template',
        line: 9,
        message: expect.stringMatching(/unknown placeholder `\{creater\}`.*did you mean `\{creator\}`\?/),
      },
    ]);
    for (const template of ['{type}/../{creator}', '/{type}', '{../}{type}', 'C:\\\\{type}']) {
      const error = configError(() => parse(withJob(`organization:\n  custom_template: "${template}"`)));
      expect(error.issues, template).toHaveLength(1);
      expect(error.issues[0]?.path).toBe('jobs.daily.organization.custom_template');
      expect(error.issues[0]?.message, template).toMatch(/climb|absolute|relative/);
    }
  });

  test('the documented syntax loads: {name|default} and the count placeholders', () => {
    const { config, warnings } = parse(
      withJob('organization:\n  custom_template: "{creator|Unknown Creator}/{download_count}/{rating_count}/{thumbs_up_count}/{day}/{model_id}/{version_id}"'),
    );
    expect(warnings).toEqual([]);
    expect(job(config).organization.custom_template).toContain('{creator|Unknown Creator}');
  });

  test('an unknown placeholder in output_dir is an error', () => {
    const error = configError(() => parse(withJob('organization:\n  output_dir: "{model_dri}/organized"')));
    expect(error.issues[0]).toMatchObject({ path: 'jobs.daily.organization.output_dir', message: expect.stringMatching(/did you mean `\{model_dir\}`/) });
  });

  test('output_dir at a root (/, the home folder itself, a drive root) is refused', () => {
    for (const target of ['/', '"~"', '~/', '/..', '"C:\\\\"', 'D:/', '"\\\\\\\\server\\\\share"']) {
      const error = configError(() => parse(withJob(`organization:\n  enabled: true\n  output_dir: ${target}`)));
      expect(error.issues, target).toHaveLength(1);
      expect(error.issues[0], target).toMatchObject({ path: 'jobs.daily.organization.output_dir', line: 10 });
      expect(error.issues[0]?.message, target).toMatch(/root|home folder/);
    }
    // A folder below them is fine.
    const { config } = parse(withJob('organization:\n  output_dir: ~/organized'));
    expect(job(config).organization.output_dir).toBe(`${HOME}/organized`);
  });

  test('organization.dry_run is a real switch now (no "has no effect" warning)', () => {
    const { config, warnings } = parse(withJob('organization:\n  enabled: true\n  dry_run: true'));
    expect(warnings).toEqual([]);
    expect(job(config).organization.dry_run).toBe(true);
    expect(job(parse(withJob('organization:\n  enabled: true')).config).organization.dry_run).toBe(false);
  });
});

describe('images.max_count and inert keys', () => {
  test('images.max_count: null (or empty) means no limit, as the seed documents; absent stays 4', () => {
    for (const value of ['null', '~', '']) {
      const { config, warnings } = parse(withJob(`output:\n  images:\n    max_count: ${value}`));
      expect(job(config).output.images.max_count, value).toBeGreaterThan(1_000_000);
      expect(warnings, value).toEqual([]);
    }
    expect(job(parse(withJob('output:\n  images:\n    save: true')).config).output.images.max_count).toBe(4);
    expect(job(parse(withJob('output:\n  images:\n    max_count: 0')).config).output.images.max_count).toBe(0);
  });

  test('api.batch.enabled and output.metadata.html.skip_existing_html warn that they have no effect', () => {
    const { warnings } = parse(
      yaml`
        api:
          batch: { enabled: false }
        input_paths: { loras: { path: /m, type: LORA } }
        output:
          metadata:
            html: { skip_existing_html: false }
      `,
    );
    expect(warnings).toEqual([
      expect.stringMatching(/^api\.batch\.enabled \(line 2\): has no effect/),
      expect.stringMatching(/^output\.metadata\.html\.skip_existing_html \(line 6\): has no effect/),
    ]);
  });

  test('output.metadata.format: json (the seed’s value) is silent; any other value warns once', () => {
    expect(parse(withJob('output:\n  metadata: { format: json }')).warnings).toEqual([]);
    const { warnings } = parse(
      yaml`
        input_paths: { loras: { path: /m, type: LORA } }
        output:
          metadata: { format: yaml }
        jobs:
          a: { type: scan-paths }
          b: { type: scan-paths }
      `,
    );
    expect(warnings).toEqual(['output.metadata.format (line 3): has no effect: metadata sidecars are always JSON (you can delete this line)']);
  });

  test('warnings are produced once per load, also for keys shared through a YAML anchor', () => {
    const { warnings } = parse(
      yaml`
        input_paths: { loras: { path: /m, type: LORA } }
        x-common: &common
          type: scan-paths
          output:
            images: { max_cuont: 3 }
            metadata: { format: yaml }
          organization: { move_files: true }
        jobs:
          a: { <<: *common }
          b: { <<: *common }
      `,
    );
    expect(warnings.length).toBe(new Set(warnings.map((warning) => warning.replace(/^\S+ /, ''))).size);
    expect(warnings.filter((warning) => warning.includes('max_cuont'))).toHaveLength(1);
    expect(warnings.filter((warning) => warning.includes('format'))).toHaveLength(1);
    expect(warnings.filter((warning) => warning.includes('move_files'))).toHaveLength(1);
  });
});
