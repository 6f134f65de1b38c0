/**
 * The configuration file, in the seed tool's YAML format: same key names, same meanings, the
 * defaults its code really uses, except where the seed was inconsistent — those choices are
 * marked "seed:" below.
 *
 * This file is the single source of truth: types are inferred from it, the loader validates
 * against it, and unknown keys are detected by walking its shape.
 */
import { z } from 'zod';
import { NSFW_LEVEL_NAMES } from '../media/nsfw.ts';
import { HashTypeSchema } from '../records/schema.ts';

const positiveSeconds = z.number().positive();

export { NSFW_LEVEL_NAMES };
export const NsfwLevelNameSchema = z.enum(NSFW_LEVEL_NAMES);

export const CircuitBreakerSchema = z.object({
  failure_threshold: z.number().int().positive().default(5),
  reset_timeout: positiveSeconds.default(60),
});

export const ApiBatchSchema = z.object({
  /** seed: read only by dead code. Kept so seed files validate; has no effect. */
  enabled: z.boolean().default(true),
  max_concurrent: z.number().int().positive().default(4),
  /**
   * API requests per minute (per host). seed: the image CDN shared this budget; previews are now
   * paced by how many download at once, halved on a 429/503 and held back for its Retry-After.
   */
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
  /**
   * Per-model pages (`models/<id>/index.html`) on or off. Off: gallery cards link to the model on
   * CivitAI instead (files not on CivitAI get no link).
   */
  enabled: z.boolean().default(true),
  /**
   * seed: folder template of the standalone per-model HTML. Model pages now live in the site at
   * `models/<id>/index.html`; a value other than the default is reported as having no effect.
   */
  path: z.string().default('{model_dir}'),
  /** seed: file name template of the per-model HTML. Same as `path`: reported when changed. */
  filename: z.string().default('{model_name}.html'),
  /**
   * seed: skip rewriting an existing page. The site is always built as a whole (Astro's cache
   * keeps unchanged images), so both values behave the same.
   */
  skip_existing_html: z.boolean().default(true),
  /**
   * The interactive gallery at the site root. Off: the root is the plain list of models (no
   * JavaScript, no search index); model pages are unchanged.
   */
  generate_gallery: z.boolean().default(true),
  /**
   * Where the built site is also written, so a seed user's bookmark keeps working. A file path
   * (`~/models/gallery.html`, the seed's form) gets a small page that opens the site, which is
   * copied into `<name>-site/` beside it; a path ending in `/` receives the site itself. Only a
   * folder that is empty or was written by us before is ever changed.
   */
  gallery_path: z.string().optional(),
  /** The site title (header, `<title>`). */
  gallery_title: z.string().default('Model Gallery'),
  /**
   * seed: also list pages found on disk from earlier runs. Every model file of the job's input
   * paths is in the gallery now; `false` is reported as having no effect.
   */
  include_existing_in_gallery: z.boolean().default(true),
  /** Show absolute local paths on model pages; turn off for public hosting. */
  show_local_paths: z.boolean().default(true),
  /**
   * Build a safe-for-work site: models flagged NSFW (model flag, or version level at or above
   * `api.nsfw.level_threshold`) are left out, and so is every image rated R or above.
   */
  sfw_only: z.boolean().default(false),
});

export const MetadataOutputSchema = z.object({
  format: z.literal('json').default('json'),
  path: z.string().default('{model_dir}'),
  filename: z.string().default('{model_name}.json'),
  html: HtmlOutputSchema.prefault({}),
});

/**
 * `images.max_count: null`: no limit. A number (not Infinity) so that the value stays a valid
 * `max_count` when a parsed config is parsed again (jobs.ts, krita/job.ts do).
 */
export const UNLIMITED_PREVIEWS = Number.MAX_SAFE_INTEGER;

export const ImagesOutputSchema = z.object({
  save: z.boolean().default(true),
  path: z.string().default('{model_dir}'),
  /**
   * Previews per model. seed: unlimited when absent; here 4 (the seed's example config), and
   * `max_count: null` (or empty) means no limit, as the seed's example documents.
   */
  max_count: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .default(4)
    .transform((value) => value ?? UNLIMITED_PREVIEWS),
  filenames: z
    .object({ preview: z.string().default('{model_name}.preview{ext}') })
    .prefault({}),
  /** Highest content level downloaded (PG, PG13, R, X, XXX). */
  max_nsfw_level: NsfwLevelNameSchema.default('XXX'),
  /** The site blurs images at or above this level until clicked. */
  blur_nsfw_level: NsfwLevelNameSchema.default('R'),
  /**
   * Width asked of CivitAI's image CDN (it snaps to 96/320/450/512/800/1200/1600/2200): enough
   * for the site's lightbox without multi-megabyte originals.
   */
  width: z.number().int().positive().max(2200).default(1200),
  /** Download full-resolution originals instead (`original=true`). */
  original: z.boolean().default(false),
});

/** Files other tools read, written beside our own sidecar (each can be switched off). */
export const CompatOutputSchema = z.object({
  /** `{model_name}.civitai.info`: the by-hash version body, as Civitai Helper writes it. */
  civitai_info: z.boolean().default(true),
  /**
   * A1111/Forge user metadata `{model_name}.json` (`activation text`, `sd version`, …), merged:
   * keys the user set are never changed.
   */
  a1111_user_metadata: z.boolean().default(true),
  /** `{model_name}.preview.<ext>`: the first preview, where WebUIs look for a thumbnail. */
  webui_preview: z.boolean().default(true),
  /** ComfyUI-Lora-Manager's `{model_name}.metadata.json`, merged (its own keys survive). */
  lora_manager: z.boolean().default(false),
});

export const OutputSchema = z.object({
  /** Central folder for sidecars and previews; model folders stay untouched. */
  base_dir: z.string().min(1).optional(),
  metadata: MetadataOutputSchema.prefault({}),
  images: ImagesOutputSchema.prefault({}),
  compat: CompatOutputSchema.prefault({}),
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
  /**
   * The seed's documented safety switch (its docs say to set it first): the job's organization
   * is only planned and shown; nothing is moved, copied or linked.
   */
  dry_run: z.boolean().default(false),
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
  /** Krita AI Diffusion's `loras.json`; when absent, looked for in the plugin's data folder. */
  loras_file: z.string().optional(),
  /**
   * How CivitAI trigger words meet what an entry already has: `fill-empty` only fills entries
   * without triggers, `replace` overwrites them, `append` adds the words that are missing.
   * merge_policy wins when both it and overwrite_triggers are set. Without merge_policy:
   * overwrite_triggers true → replace, false → fill-empty; neither → fill-empty.
   */
  merge_policy: z.enum(['fill-empty', 'replace', 'append']).optional(),
  /** seed: default true (always overwrite). Now only read when merge_policy is absent. */
  overwrite_triggers: z.boolean().optional(),
  /** Also set `metadata.lora_strength` (replace: always; other policies: where it is missing). */
  write_strength: z.number().optional(),
});

export const JobSchema = z.discriminatedUnion('type', [ScanJobSchema, SyncLoraTriggersJobSchema]);

export const ScannerSchema = z.object({
  cache_dir: z.string().default('.civitscraper_cache'),
  /** Seconds a cached API answer stays fresh. */
  cache_validity: z.number().nonnegative().default(86400),
  force_refresh: z.boolean().default(false),
  /** seed: accepted so seed files validate; the loader warns that it has no effect and drops it. */
  version_cache_validity: z.number().optional(),
  /**
   * Hash types computed in the first (and, by default, only) read of a file. The default is the
   * cheap set: SHA256 (what identifies a file), AutoV2 (its first 10 hex digits) and AutoV1 (a
   * 64 KiB slice). Types listed here explicitly are all computed in that read, as the seed did
   * (its default was every type but BLAKE3; AutoV3 and CRC32 cost a second and third full pass
   * over the bytes in memory: 1.3 GB/s instead of 2.6 GB/s on 2 cores).
   */
  hash_types: z
    .array(HashTypeSchema)
    .default(['SHA256', 'AutoV2', 'AutoV1'])
    .transform((types) => (types.includes('SHA256') ? types : ['SHA256' as const, ...types])),
  /**
   * Complete the other hashes without reading identified files again (default true): AutoV3,
   * CRC32 and BLAKE3 of a file CivitAI identified come from its answer (`files[].hashes`); for a
   * file CivitAI does not know, AutoV3 (safetensors) and CRC32 are computed in a second read,
   * once (the ledger keeps them). `false`: only `hash_types`.
   */
  complete_hashes: z.boolean().optional(),
  /**
   * Hashing threads, from the first file; default: the machine's cores (at most 8), started once
   * the files to read are more than a few hundred or 64 MB (fewer are hashed on the main thread).
   */
  hash_threads: z.number().int().positive().optional(),
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

/** Where identification answers come from, asked in `order`; a failed source is skipped, never "not found". */
export const SOURCE_NAMES = ['civitai', 'civitai_red', 'civarchive', 'archive_db'] as const;
export const SourceNameSchema = z.enum(SOURCE_NAMES);
export type SourceName = z.infer<typeof SourceNameSchema>;

const SwitchSchema = z.object({ enabled: z.boolean().default(true) });

export const SourcesSchema = z.object({
  /**
   * `offline`: no request at all (the archive and local data only); `no-remote`: no hash is sent
   * anywhere (the archive identifies). The CLI's --offline / --no-remote set it.
   */
  network: z.enum(['online', 'offline', 'no-remote']).default('online'),
  /** Asked first to last for each hash; the first that knows the file answers. */
  order: z.array(SourceNameSchema).min(1).default(['civitai', 'archive_db']),
  /** The CivitAI API of `api.base_url`. */
  civitai: SwitchSchema.prefault({}),
  /** CivitAI's civitai.red API host (some NSFW models answer only there); same key and limits as `api`. */
  civitai_red: SwitchSchema.extend({ base_url: z.url({ protocol: /^https?$/ }).default('https://civitai.red/api/v1') }).prefault({}),
  /** CivArchive (mirrors of deleted CivitAI models), GET /sha256/:hash. */
  civarchive: SwitchSchema.extend({ base_url: z.url({ protocol: /^https?$/ }).default('https://civarchive.com/api') }).prefault({}),
  /**
   * ComfyUI-Lora-Manager's offline archive (SQLite, read only): a path, or `{ path, enabled }`.
   * Without a path the source is off.
   */
  archive_db: z
    .union([z.string().min(1), SwitchSchema.extend({ path: z.string().min(1).optional() })])
    .optional()
    .transform((value) => (typeof value === 'string' ? { enabled: true, path: value } : value ?? { enabled: true })),
});
export type SourcesConfig = z.infer<typeof SourcesSchema>;

/** The gallery site's own settings (read by the site build only). */
export const SiteSchema = z.object({
  /**
   * A JSON file exported from the gallery ("Your data" → Export): its favourites, hidden models,
   * tags, notes and weights are baked into the pages, so they survive a rebuild and a new browser.
   */
  curation: z.string().min(1).optional(),
  /**
   * Days a model file that is gone (a network share offline, a deleted file) stays in the site,
   * marked missing, before it is dropped; 0 drops it at once.
   */
  missing_grace_days: z.number().nonnegative().default(7),
});

/** The update radar (`civitscraper updates`, the gallery's "newer version" badges). */
export const UpdatesSchema = z.object({
  /** Version ids never offered as updates (also `civitscraper updates --ignore VERSION`). */
  ignore: z.array(z.number().int().positive()).default([]),
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
  sources: SourcesSchema.prefault({}),
  updates: UpdatesSchema.prefault({}),
  site: SiteSchema.prefault({}),
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
export type { NsfwLevelName } from '../media/nsfw.ts';
export type CompatOutputConfig = z.infer<typeof CompatOutputSchema>;
export type SiteConfig = z.infer<typeof SiteSchema>;
