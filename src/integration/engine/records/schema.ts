/**
 * A ModelRecord is what the engine knows about one local model file. The CLI reports it, the
 * sidecar writer serialises it, and the Astro loader stores it as one `models` entry; pages
 * render it. Framework-free on purpose.
 */
import { z } from 'zod';
import { ModelSchema, ModelVersionSchema } from '../civitai/schemas.ts';
import { TrainingSummarySchema } from './training.ts';
import { NewerVersionSchema } from '../updates/schema.ts';

export const HASH_TYPES = ['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'BLAKE3', 'CRC32'] as const;
export const HashTypeSchema = z.enum(HASH_TYPES);
export type HashType = z.infer<typeof HashTypeSchema>;

export const HashesSchema = z.partialRecord(HashTypeSchema, z.string());
export type Hashes = z.infer<typeof HashesSchema>;

export const LocalFileSchema = z.object({
  /** Absolute path on this machine. */
  path: z.string(),
  /** Key of the `input_paths` entry the file was found under. */
  inputPathId: z.string(),
  /** `input_paths.<id>.type` (the user's label, e.g. LORA). */
  inputType: z.string(),
  /** Path relative to the input path root, always with `/`. */
  relativePath: z.string(),
  /** Folder relative to the input path root (`''` at the root), always with `/`. */
  folder: z.string(),
  name: z.string(),
  stem: z.string(),
  /** Lower-case extension with the dot, e.g. `.safetensors`. */
  ext: z.string(),
  size: z.number(),
  mtimeMs: z.number(),
});
export type LocalFile = z.infer<typeof LocalFileSchema>;

export const CivitaiStatusSchema = z.enum([
  /** Found by hash. */
  'identified',
  /** CivitAI answered 404: no published file has this hash. */
  'not-found',
  /** The lookup failed (network, server, bad body): nothing is known, try again later. */
  'unknown',
  /** Not looked up in this run (offline mode / hashing disabled). */
  'not-checked',
]);
export type CivitaiStatus = z.infer<typeof CivitaiStatusSchema>;

export const LocalImageSchema = z.object({
  /** Absolute path of the downloaded file (sidecar location). */
  path: z.string(),
  /** Remote URL it came from. */
  url: z.string(),
  type: z.enum(['image', 'video']),
  /** Numeric nsfwLevel bitmask value (1 PG, 2 PG13, 4 R, 8 X, 16 XXX). */
  nsfwLevel: z.number(),
  width: z.number().optional(),
  height: z.number().optional(),
  /** BlurHash from the API, for a placeholder while the image loads. */
  blurhash: z.string().optional(),
  /** Generation parameters as the API gave them. */
  meta: z.record(z.string(), z.unknown()).optional(),
  /** For a video: a still frame (absolute path) to show where a video cannot play. */
  still: z.string().optional(),
});
export type LocalImage = z.infer<typeof LocalImageSchema>;

export const RecordProblemSchema = z.object({
  stage: z.string(),
  message: z.string(),
});

export const ModelRecordSchema = z.object({
  /** URL-safe id, stable while the file's content is unchanged. */
  id: z.string(),
  file: LocalFileSchema,
  hashes: HashesSchema,
  civitai: z.object({
    status: CivitaiStatusSchema,
    /** ISO time of the last answer from CivitAI. */
    checkedAt: z.string().optional(),
    /** Why the status is `unknown`. */
    error: z.string().optional(),
    /**
     * Set when the match looks wrong: CivitAI's file for this hash has another size than ours
     * (CivitAI stores a few wrong hashes). The match is kept, but flagged.
     */
    doubtful: z.string().optional(),
    /** Which source answered: `civitai`, `civitai_red`, `civarchive` or `archive_db` (absent in records of older runs). */
    source: z.enum(['civitai', 'civitai_red', 'civarchive', 'archive_db']).optional(),
    /** Linked by hand (`civitscraper link FILE VERSION`), not found by hash. */
    linked: z.boolean().optional(),
    /**
     * CivitAI answered for this file before and now answers 404 (deleted or hidden): what an
     * earlier run stored is kept, never purged.
     */
    removedFromCivitai: z.boolean().optional(),
  }),
  /** The model version the file belongs to, as the API returned it. */
  version: ModelVersionSchema.optional(),
  /** The parent model (creator, tags, description, sibling versions). */
  model: ModelSchema.optional(),
  images: z.array(LocalImageSchema).default([]),
  /** Where the metadata sidecar of this file lives. */
  sidecarPath: z.string().optional(),
  /** From a safetensors header's `__metadata__`: training setup and top dataset tags. */
  training: TrainingSummarySchema.optional(),
  /** AIR of the version, `urn:air:{ecosystem}:{type}:civitai:{modelId}@{versionId}`. */
  air: z.string().optional(),
  /**
   * Newer versions of this file's family (same base model and variant) that the library does not
   * have, newest first; counted as updates when `flags` is empty (early access, paid, on-site
   * only and ignored ones are flagged). Absent when the model's versions are not known.
   */
  updates: z.array(NewerVersionSchema).optional(),
  /** Non-fatal problems met while processing this file (e.g. a preview that failed). */
  problems: z.array(RecordProblemSchema).default([]),
});
export type ModelRecord = z.infer<typeof ModelRecordSchema>;
export type ModelRecordInput = z.input<typeof ModelRecordSchema>;
