/** A complete config written for the Python CivitScraper loads unchanged. */
import path from 'node:path';
import { expect, test } from 'vitest';
import { loadConfig, selectJobs } from '../../src/integration/engine/config/index.ts';
import type { ScanJob, SyncLoraTriggersJob } from '../../src/integration/engine/config/index.ts';
import { FIXTURES, HOME } from './helpers.ts';

const file = path.join(FIXTURES, 'seed-example.yaml');

test('the full seed-format example loads without errors, with only the expected warnings', async () => {
  const { config, warnings, file: loaded } = await loadConfig({ configPath: file, env: {}, homeDir: HOME, cwd: '/' });
  expect(loaded).toBe(file);
  // `format: json` is the seed's own value (and ours): no warning. Keys that change nothing do warn.
  expect(warnings).toEqual([
    'api.batch.enabled (line 18): has no effect: CivitScraper only read it in code that never ran, and there is nothing here to switch off (you can delete this line)',
    'jobs.scan-loras.output.metadata.html.skip_existing_html (line 64): has no effect: model pages are part of the site, which is always built as a whole (unchanged images come from the cache); you can delete this line',
    'jobs.regenerate-html.output.metadata.html.skip_existing_html (line 101): has no effect: model pages are part of the site, which is always built as a whole (unchanged images come from the cache); you can delete this line',
    'scanner.version_cache_validity (line 115): has no effect: every cached CivitAI answer stays fresh for `scanner.cache_validity` seconds (you can delete this line)',
    'api.key (line 6): is still the example placeholder `YOUR_API_KEY`: running without an API key (set the CIVITAI_API_KEY environment variable or `api.key`; some models and NSFW previews need one)',
  ]);

  expect(config.api).toMatchObject({
    base_url: 'https://civitai.com/api/v1',
    timeout: 30,
    max_retries: 3,
    user_agent: 'CivitScraper/0.2.0',
    domains: { sfw: 'civitai.com', nsfw: 'civitai.red' },
    nsfw: { level_threshold: 4, browsing_level: 'X' },
    batch: { rate_limit: 100, retry_delay: 1000, circuit_breaker: { failure_threshold: 5, reset_timeout: 60 } },
  });
  expect(config.api.key).toBeUndefined();
  expect(config.input_paths).toEqual({
    loras: { path: '/mnt/models/Lora', type: 'LORA', patterns: ['*.safetensors', '*.pt'], recursive: true },
    checkpoints: {
      path: '/mnt/models/Stable-diffusion',
      type: 'Checkpoint',
      patterns: ['*.safetensors', '*.ckpt'],
      recursive: false,
    },
    embeddings: { path: '/mnt/models/embeddings', type: 'TextualInversion', patterns: ['*.pt', '*.safetensors'], recursive: true },
  });
  expect(Object.keys(config.jobs)).toEqual(['scan-loras', 'scan-all', 'regenerate-html', 'sync-krita']);

  const scan = config.jobs['scan-loras'] as ScanJob;
  expect(scan.output.metadata.html).toMatchObject({
    gallery_path: '/mnt/models/gallery.html',
    gallery_title: 'My LoRA Gallery',
  });
  expect(scan.output.metadata.format).toBe('json');
  expect(scan.output.images).toMatchObject({ max_count: 4, path: '{model_dir}', filenames: { preview: '{model_name}.preview{ext}' } });
  expect(scan.organization).toMatchObject({
    enabled: false,
    template: 'by_type_and_basemodel',
    custom_template: '{type}/{base_model}',
    output_dir: '/mnt/models/organized',
    operation_mode: 'symlink',
    on_collision: 'skip',
  });
  expect((config.jobs['regenerate-html'] as ScanJob).use_cached_metadata).toBe(true);
  expect((config.jobs['scan-all'] as ScanJob).output.images.max_count).toBe(2);
  expect(config.jobs['sync-krita'] as SyncLoraTriggersJob).toMatchObject({
    type: 'sync-lora-triggers',
    loras_file: '/home/artist/.local/share/krita/ai_diffusion/loras.json',
    overwrite_triggers: false,
  });
  expect(config.scanner).toEqual({
    cache_dir: path.join(FIXTURES, '.civitscraper_cache'),
    cache_validity: 86400,
    force_refresh: false,
    // The one-pass default; AutoV3 and CRC32 are completed from CivitAI (scanner.complete_hashes).
    hash_types: ['SHA256', 'AutoV2', 'AutoV1'],
  });
  expect(config.logging.file).toMatchObject({ directory: path.join(FIXTURES, 'logs'), level: 'DEBUG', max_size: 10 });
  expect(selectJobs(config).map((entry) => entry.name)).toEqual(['scan-loras']);
});

test('with CIVITAI_API_KEY set, the placeholder warning goes away and the key is used', async () => {
  const { config, warnings } = await loadConfig({
    configPath: file,
    env: { CIVITAI_API_KEY: 'k-123' },
    homeDir: HOME,
  });
  expect(config.api.key).toBe('k-123');
  expect(warnings.filter((warning) => warning.startsWith('api.key'))).toEqual([]);
  expect(warnings).toHaveLength(4);
});

test('the minimal example loads, relative path resolved next to the file', async () => {
  const { config, warnings } = await loadConfig({ configPath: path.join(FIXTURES, 'minimal.yaml'), env: {}, homeDir: HOME });
  expect(warnings).toEqual([]);
  expect(config.input_paths.loras?.path).toBe(path.join(FIXTURES, 'models', 'Lora'));
  expect(config.jobs).toEqual({});
});
