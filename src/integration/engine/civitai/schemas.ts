/**
 * Shapes of the CivitAI REST API as it really answers.
 *
 * Every field is optional and extra keys are kept: the API drops keys whose value is null or an
 * empty array, and its shape has changed several times since 2022. A schema that rejected an old
 * or a new body would turn a good answer into a failure.
 */
import { z } from 'zod';

const optionalString = z.string().nullish();
const optionalNumber = z.number().nullish();
const optionalBoolean = z.boolean().nullish();

/** `{ "SHA256": "ABC…", "AutoV2": "…" }` — only the types that exist for the file. */
export const FileHashesSchema = z.record(z.string(), z.string());

export const ModelFileSchema = z.looseObject({
  id: optionalNumber,
  name: optionalString,
  sizeKB: optionalNumber,
  type: optionalString,
  primary: optionalBoolean,
  metadata: z
    .looseObject({ format: optionalString, size: optionalString, fp: optionalString })
    .nullish(),
  hashes: FileHashesSchema.nullish(),
  downloadUrl: optionalString,
  pickleScanResult: optionalString,
  virusScanResult: optionalString,
  scannedAt: optionalString,
});

/**
 * Generation parameters attached to an image. Free-form: A1111 keys (`"Clip skip"`), ComfyUI
 * keys, `civitaiResources`, … We only name the ones the site shows.
 */
export const ImageMetaSchema = z.looseObject({
  prompt: z.unknown().optional(),
  negativePrompt: z.unknown().optional(),
  sampler: z.unknown().optional(),
  steps: z.unknown().optional(),
  cfgScale: z.unknown().optional(),
  seed: z.unknown().optional(),
  Model: z.unknown().optional(),
});

/** Older responses use the string form (`None|Soft|Mature|X`), newer ones the numeric bitmask. */
export const NsfwLevelValueSchema = z.union([z.number(), z.string()]);

export const VersionImageSchema = z.looseObject({
  id: optionalNumber,
  url: z.string(),
  nsfwLevel: NsfwLevelValueSchema.nullish(),
  nsfw: z.union([z.boolean(), z.string()]).nullish(),
  browsingLevel: optionalNumber,
  width: optionalNumber,
  height: optionalNumber,
  hash: optionalString,
  type: optionalString,
  meta: z.union([ImageMetaSchema, z.null()]).optional(),
  hasMeta: optionalBoolean,
});

export const VersionStatsSchema = z.looseObject({
  downloadCount: optionalNumber,
  thumbsUpCount: optionalNumber,
  thumbsDownCount: optionalNumber,
  ratingCount: optionalNumber,
  rating: optionalNumber,
});

/** GET /model-versions/by-hash/:hash, GET /model-versions/:id and each element of the batch POST. */
export const ModelVersionSchema = z.looseObject({
  id: z.number(),
  modelId: optionalNumber,
  name: optionalString,
  nsfwLevel: optionalNumber,
  createdAt: optionalString,
  updatedAt: optionalString,
  publishedAt: optionalString,
  status: optionalString,
  trainedWords: z.array(z.string()).nullish(),
  baseModel: optionalString,
  baseModelType: optionalString,
  description: optionalString,
  air: optionalString,
  stats: VersionStatsSchema.nullish(),
  model: z
    .looseObject({
      name: optionalString,
      type: optionalString,
      nsfw: optionalBoolean,
      poi: optionalBoolean,
      mode: optionalString,
    })
    .nullish(),
  files: z.array(ModelFileSchema).nullish(),
  images: z.array(VersionImageSchema).nullish(),
  downloadUrl: optionalString,
});

/** A version as embedded in a model body (`/models/:id`, `/models` items): no `air`, no `model`. */
export const ModelVersionSummarySchema = ModelVersionSchema.extend({
  index: optionalNumber,
});

export const ModelStatsSchema = z.looseObject({
  downloadCount: optionalNumber,
  favoriteCount: optionalNumber,
  thumbsUpCount: optionalNumber,
  thumbsDownCount: optionalNumber,
  commentCount: optionalNumber,
  ratingCount: optionalNumber,
  rating: optionalNumber,
});

/** GET /models/:id and each `items[]` element of GET /models. */
export const ModelSchema = z.looseObject({
  id: z.number(),
  name: optionalString,
  description: optionalString,
  type: optionalString,
  nsfw: optionalBoolean,
  nsfwLevel: optionalNumber,
  poi: optionalBoolean,
  mode: optionalString,
  allowCommercialUse: z.union([z.array(z.string()), z.string()]).nullish(),
  allowNoCredit: optionalBoolean,
  allowDerivatives: optionalBoolean,
  allowDifferentLicense: optionalBoolean,
  stats: ModelStatsSchema.nullish(),
  creator: z.looseObject({ username: optionalString, image: optionalString }).nullish(),
  tags: z.array(z.union([z.string(), z.looseObject({ name: z.string() })])).nullish(),
  modelVersions: z.array(ModelVersionSummarySchema).nullish(),
});

export const PageMetadataSchema = z.looseObject({
  nextCursor: z.union([z.string(), z.number()]).nullish(),
  nextPage: optionalString,
  currentPage: optionalNumber,
  pageSize: optionalNumber,
  totalItems: optionalNumber,
  totalPages: optionalNumber,
});

export const ModelListSchema = z.looseObject({
  items: z.array(ModelSchema),
  metadata: PageMetadataSchema.nullish(),
});

export const ImageListSchema = z.looseObject({
  items: z.array(VersionImageSchema),
  metadata: PageMetadataSchema.nullish(),
});

/** `{"error": "..."}`, or TRPC's `{"message": ...}` / `{"code", "message", "issues"}`. */
export const ErrorBodySchema = z.looseObject({
  error: z.unknown().optional(),
  message: z.unknown().optional(),
});

export type ModelFile = z.infer<typeof ModelFileSchema>;
export type ImageMeta = z.infer<typeof ImageMetaSchema>;
export type VersionImage = z.infer<typeof VersionImageSchema>;
export type ModelVersion = z.infer<typeof ModelVersionSchema>;
export type ModelVersionSummary = z.infer<typeof ModelVersionSummarySchema>;
export type Model = z.infer<typeof ModelSchema>;
export type ModelList = z.infer<typeof ModelListSchema>;
export type ImageList = z.infer<typeof ImageListSchema>;
