/**
 * Shapes of the update radar: what the rules read of a version (`VersionFacts`, the same from a
 * full `/models/:id` body, from the slim model kept in a sidecar, or from the last check's
 * snapshot), what a record carries (`updates`), what `updates.json` keeps between runs, and what
 * `civitscraper updates --json` prints. Zod is the one source of truth; types are inferred.
 */
import { z } from 'zod';

/** What a model-weight file says about itself (`files[].metadata`), normalised by variant.ts. */
export const FileFactsSchema = z.object({
  /** `fp16`, `fp8`, `bf16`, `fp32`, `nf4`, `q4`, … */
  fp: z.string().optional(),
  /** `pruned` or `full`. */
  size: z.string().optional(),
  /** `safetensors`, `pickle`, `diffusers`, `gguf`, `onnx`, `coreml`. */
  format: z.string().optional(),
});
export type FileFacts = z.infer<typeof FileFactsSchema>;

/**
 * A version as the update rules see it. Every field but `id` may be unknown (old bodies, slim
 * summaries): an unknown fact never rules a version out, and never makes one count that should not.
 */
export const VersionFactsSchema = z.object({
  id: z.number(),
  name: z.string().optional(),
  baseModel: z.string().optional(),
  /** `Standard`, `Inpainting`, `Refiner`, … */
  baseModelType: z.string().optional(),
  publishedAt: z.string().optional(),
  createdAt: z.string().optional(),
  /** `Published`; anything else (Draft, Scheduled, …) is not available and never listed. */
  status: z.string().optional(),
  /** `Public`, `EarlyAccess`, … */
  availability: z.string().optional(),
  /** When early access ends: `earlyAccessEndsAt`, or publishedAt + the early-access days. */
  earlyAccessEndsAt: z.string().optional(),
  /** `usageControl`: `Download`, or `Generation` / `InternalGeneration` (on-site only). */
  usageControl: z.string().optional(),
  /** `paidAccess` set (2026+ bodies): the download is sold. */
  paid: z.boolean().optional(),
  /** The model-weight files (absent: not known, as in sidecars written before the radar). */
  files: z.array(FileFactsSchema).optional(),
  /** Place in the model's list (0 = first = newest): the order when dates are missing. */
  position: z.number().optional(),
});
export type VersionFacts = z.infer<typeof VersionFactsSchema>;

/**
 * Why a newer version of the same family is shown but not counted as an update: still in early
 * access, sold (`paidAccess`), usable on CivitAI only (`usageControl` other than Download), or
 * ignored by the user (`updates.ignore`, `civitscraper updates --ignore`).
 */
export const UPDATE_FLAGS = ['early-access', 'paid', 'on-site-only', 'ignored'] as const;
export const UpdateFlagSchema = z.enum(UPDATE_FLAGS);
export type UpdateFlag = z.infer<typeof UpdateFlagSchema>;

/**
 * One newer version of the record's family (same base model, same variant), published after
 * the newest local version of that family and not in the library. Counted as an update when
 * `flags` is empty. This is the record's `updates` field, which the gallery reads.
 */
export const NewerVersionSchema = z.object({
  versionId: z.number(),
  name: z.string(),
  baseModel: z.string().optional(),
  /** `publishedAt`, else `createdAt`. */
  publishedAt: z.string().optional(),
  flags: z.array(UpdateFlagSchema),
  /** With the `early-access` flag: when it ends, if known. */
  earlyAccessEndsAt: z.string().optional(),
});
export type NewerVersion = z.infer<typeof NewerVersionSchema>;

export const ModelSnapshotSchema = z.object({
  /** When CivitAI gave this answer (an answer from the HTTP cache keeps its own time). */
  fetchedAt: z.string(),
  /** `civitai` or `civitai_red`: the API that answered. */
  host: z.string().optional(),
  name: z.string().optional(),
  /** CivitAI answered 404: the model is gone (no update is offered for it). */
  missing: z.boolean().optional(),
  versions: z.array(VersionFactsSchema),
});
export type ModelSnapshot = z.infer<typeof ModelSnapshotSchema>;

/** `scanner.cache_dir/updates.json`: versions ignored with the CLI, and the last check's answers. */
export const UpdateStateSchema = z.object({
  format: z.literal(1).default(1),
  ignore: z.array(z.number().int().positive()).default([]),
  /** By model id. */
  models: z.record(z.string(), ModelSnapshotSchema).default({}),
});
export type UpdateState = z.infer<typeof UpdateStateSchema>;

/** Where the data of one model came from in a check. */
export const AnswerSchema = z.object({
  /** `network`: asked now; `cache`: a stored answer under 24 h old; `snapshot`: the last check's (offline, or the request failed); `sidecar`: what the scan stored. */
  from: z.enum(['network', 'cache', 'snapshot', 'sidecar', 'none']),
  fetchedAt: z.string().optional(),
  /** Why the model could not be asked now (the known data is used instead). */
  error: z.string().optional(),
});

export const UpdateEntrySchema = z.object({
  modelId: z.number(),
  model: z.string(),
  type: z.string().optional(),
  /** The family: base model and variant, e.g. `SDXL 1.0 · turbo, fp8`. */
  family: z.string(),
  /** The newest local version of the family, and every local file of it. */
  local: z.object({ versionId: z.number(), name: z.string(), publishedAt: z.string().optional(), paths: z.array(z.string()) }),
  newer: z.array(NewerVersionSchema.extend({ counted: z.boolean(), url: z.string() })),
  answer: AnswerSchema,
});
export type UpdateEntry = z.infer<typeof UpdateEntrySchema>;

/** `civitscraper updates --json`. */
export const UpdateReportSchema = z.object({
  checkedAt: z.string(),
  network: z.enum(['online', 'offline', 'no-remote']),
  models: z.object({
    total: z.number(),
    network: z.number(),
    cache: z.number(),
    snapshot: z.number(),
    sidecar: z.number(),
    failed: z.number(),
    missing: z.number(),
    /** The oldest answer used, ISO. */
    oldestAnswerAt: z.string().optional(),
  }),
  /** Families with at least one newer version (counted or flagged). */
  entries: z.array(UpdateEntrySchema),
  /** Counted updates (no flag) over all entries. */
  counted: z.number(),
  ignore: z.array(z.number()),
  requests: z.number(),
  /** Hosts switched off in the config: their models were not asked (the last answers are used). */
  notAsked: z.array(z.object({ source: z.enum(['civitai', 'civitai_red']), models: z.number(), reason: z.string() })).optional(),
});
export type UpdateReport = z.infer<typeof UpdateReportSchema>;
