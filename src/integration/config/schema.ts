/**
 * The configuration file, in the seed tool's YAML format: same key names, same meanings, the
 * defaults its code really uses (research/civitscraper-inventory.md §1.4) except where the seed
 * was inconsistent — those choices are marked "seed:" below.
 *
 * This file is the single source of truth: types are inferred from it, the loader validates
 * against it, and unknown keys are detected by walking its shape.
 */
import { z } from 'zod';

const positiveSeconds = z.number().positive();

export const NSFW_LEVEL_NAMES = ['PG', 'PG13', 'R', 'X', 'XXX'] as const;
export const NsfwLevelNameSchema = z.enum(NSFW_LEVEL_NAMES);

export const CircuitBreakerSchema = z.object({
  failure_threshold: z.number().int().positive().default(5),
  reset_timeout: positiveSeconds.default(60),
});

export const ApiBatchSchema = z.object({
  /** seed: read only by dead code. Kept so seed files validate; has no effect. */
  enabled: z.boolean().default(true),
  max_concurrent: z.number().int().positive().default(4),
  /** Requests per minute for all HTTP calls (API and image CDN). */
  rate_limit: z.number().positive().default(100),
  /** Base of the exponential backoff, in milliseconds. */
  retry_delay: z.number().nonnegative().default(1000),
  cache_size: z.number().int().positive().default(100),
  circuit_breaker: CircuitBreakerSchema.prefault({}),
});

export const ApiSchema = z.object({
  /** Prefer the CIVITAI_API_KEY environment variable; it overrides this key. */
  key: z.string().optional(),
  /** seed: required. Defaults to the public API so a minimal config works. */
  base_url: z.url({ protocol: /^https?$/ }).default('https://civitai.com/api/v1'),
  timeout: positiveSeconds.default(30),
  max_retries: z.number().int().nonnegative().default(3),
  user_agent: z.string().default('CivitScraper-Astro/0.1.0'),
  domains: z
    .object({ sfw: z.string().default('civitai.com'), nsfw: z.string().default('civitai.red') })
    .prefault({}),
  nsfw: z
    .object({
      /** A version counts as NSFW when its nsfwLevel bitmask is >= this value. */
      level_threshold: z.number().int().positive().default(4),
      /** `nsfw` parameter sent to GET /images when fetching NSFW previews. */
      browsing_level: z.string().default('X'),
    })
    .prefault({}),
  batch: ApiBatchSchema.prefault({}),
});

const patternList = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((value) => (typeof value === 'string' ? [value] : value));

export const InputPathSchema = z.object({
  path: z.string().min(1),
  /** Free label (LORA, Checkpoint, …): `{model_type}` in output templates. */
  type: z.string().min(1),
  patterns: patternList.default(['*.safetensors']),
  recursive: z.boolean().default(true),
});

export const HtmlOutputSchema = z.object({
  /** Per-model pages on or off. */
  enabled: z.boolean().default(true),
  /** seed: directory of the standalone per-model HTML. The site replaces those pages. */
  path: z.string().default('{model_dir}'),
  filename: z.string().default('{model_name}.html'),
  skip_existing_html: z.boolean().default(true),
  generate_gallery: z.boolean().default(true),
  /** Where the built site is also copied, so a seed user's bookmark keeps working. */
  gallery_path: z.string().optional(),
  gallery_title: z.string().default('Model Gallery'),
  include_existing_in_gallery: z.boolean().default(true),
  /** Show absolute local paths on model pages; turn off for public hosting. */
  show_local_paths: z.boolean().default(true),
});

export const MetadataOutputSchema = z.object({
  format: z.literal('json').default('json'),
  path: z.string().default('{model_dir}'),
  filename: z.string().default('{model_name}.json'),
  html: HtmlOutputSchema.prefault({}),
});

export const ImagesOutputSchema = z.object({
  save: z.boolean().default(true),
  path: z.string().default('{model_dir}'),
  /** seed: unlimited when absent. 4 matches the seed's example config. */
  max_count: z.number().int().nonnegative().default(4),
  filenames: z
    .object({ preview: z.string().default('{model_name}.preview{ext}') })
    .prefault({}),
  /** Highest content level downloaded (PG, PG13, R, X, XXX). */
  max_nsfw_level: NsfwLevelNameSchema.default('XXX'),
  /** The site blurs images at or above this level until clicked. */
  blur_nsfw_level: NsfwLevelNameSchema.default('R'),
});

export const OutputSchema = z.object({
  /** Central folder for sidecars and previews; model folders stay untouched. */
  base_dir: z.string().min(1).optional(),
  metadata: MetadataOutputSchema.prefault({}),
  images: ImagesOutputSchema.prefault({}),
});

export const ORGANIZATION_TEMPLATES = {
  by_type: '{type}',
  by_creator: '{creator}',
  by_type_and_creator: '{type}/{creator}',
  by_type_and_basemodel: '{type}/{base_model}',
  by_base_model: '{base_model}/{type}',
  by_nsfw: '{nsfw}/{type}',
  by_type_basemodel_nsfw: '{type}/{base_model}/{nsfw}',
  by_date: '{year}/{month}/{type}',
  by_model_info: '{model_type}/{model_name}',
  by_rating: '{weighted_rating}/{type}',
  by_type_and_rating: '{type}/{weighted_rating}',
  by_raw_rating: '{rating}/{type}',
  by_type_and_raw_rating: '{type}/{rating}',
} as const;

export const OperationModeSchema = z.enum(['symlink', 'copy', 'move', 'hardlink']);
export const CollisionPolicySchema = z.enum(['skip', 'overwrite', 'fail']);

export const OrganizationSchema = z.object({
  enabled: z.boolean().default(false),
  template: z
    .enum(Object.keys(ORGANIZATION_TEMPLATES) as [keyof typeof ORGANIZATION_TEMPLATES])
    .default('by_type'),
  custom_template: z.string().optional(),
  output_dir: z.string().default('{model_dir}/organized'),
  operation_mode: OperationModeSchema.optional(),
  on_collision: CollisionPolicySchema.optional(),
  /** seed legacy switches, honoured when operation_mode resolves to copy. */
  move_files: z.boolean().optional(),
  create_symlinks: z.boolean().optional(),
});

const jobCommon = {
  description: z.string().optional(),
  paths: z.array(z.string().min(1)).optional(),
  recursive: z.boolean().optional(),
};

export const ScanJobSchema = z.object({
  type: z.literal('scan-paths'),
  ...jobCommon,
  /** Skip files whose metadata sidecar already exists. */
  skip_existing: z.boolean().default(true),
  /** Compute content hashes (needed to identify anything new). */
  verify_hashes: z.boolean().default(true),
  /** Offline: build records from existing sidecars, no hashing, no network. */
  use_cached_metadata: z.boolean().default(false),
  force_refresh: z.boolean().default(false),
  /** The loader deep-merges the top-level `output` under this before validation; the job wins. */
  output: OutputSchema.prefault({}),
  organization: OrganizationSchema.prefault({}),
});

export const SyncLoraTriggersJobSchema = z.object({
  type: z.literal('sync-lora-triggers'),
  ...jobCommon,
  loras_file: z.string().optional(),
  overwrite_triggers: z.boolean().default(true),
});

export const JobSchema = z.discriminatedUnion('type', [ScanJobSchema, SyncLoraTriggersJobSchema]);

export const ScannerSchema = z.object({
  cache_dir: z.string().default('.civitscraper_cache'),
  /** Seconds a cached API answer stays fresh. */
  cache_validity: z.number().nonnegative().default(86400),
  force_refresh: z.boolean().default(false),
  version_cache_validity: z.number().optional(),
});

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'CRITICAL'] as const;
const LogLevelSchema = z
  .string()
  .transform((value) => value.toUpperCase())
  .pipe(z.enum(LOG_LEVELS));

export const LoggingSchema = z.object({
  level: LogLevelSchema.default('INFO'),
  console: z
    .object({
      enabled: z.boolean().default(true),
      level: LogLevelSchema.optional(),
      simple: z.boolean().default(false),
    })
    .prefault({}),
  file: z
    .object({
      enabled: z.boolean().default(false),
      level: LogLevelSchema.optional(),
      directory: z.string().default('logs'),
      filename: z.string().optional(),
      max_size: z.number().positive().default(10),
      backup_count: z.number().int().nonnegative().default(5),
    })
    .prefault({}),
});

export const ConfigSchema = z.object({
  api: ApiSchema.prefault({}),
  input_paths: z.record(z.string(), InputPathSchema).refine((paths) => Object.keys(paths).length > 0, {
    message: 'needs at least one entry, e.g. `loras: { path: ~/models/Lora, type: LORA }`',
  }),
  default_job: z.string().optional(),
  jobs: z.record(z.string(), JobSchema).default({}),
  /** Shared by every scan job (merged under each job's own `output`). */
  output: OutputSchema.optional(),
  scanner: ScannerSchema.prefault({}),
  logging: LoggingSchema.prefault({}),
  dry_run: z.boolean().default(false),
  defaults: z
    .object({
      organization: z
        .object({
          operation_mode: OperationModeSchema.optional(),
          on_collision: CollisionPolicySchema.optional(),
        })
        .optional(),
    })
    .optional(),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type ApiConfig = z.infer<typeof ApiSchema>;
export type InputPath = z.infer<typeof InputPathSchema>;
export type ScanJob = z.infer<typeof ScanJobSchema>;
export type SyncLoraTriggersJob = z.infer<typeof SyncLoraTriggersJobSchema>;
export type Job = z.infer<typeof JobSchema>;
export type OutputConfig = z.infer<typeof OutputSchema>;
export type OrganizationConfig = z.infer<typeof OrganizationSchema>;
export type ScannerConfig = z.infer<typeof ScannerSchema>;
export type LoggingConfig = z.infer<typeof LoggingSchema>;
export type NsfwLevelName = z.infer<typeof NsfwLevelNameSchema>;
