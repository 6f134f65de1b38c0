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

/**
 * Longest text kept from an API body, in UTF-16 code units: model and version descriptions
 * (HTML; real ones stay far below 256 KiB) and every other string (names, prompts, URLs; 64 KiB
 * leaves room for the longest real prompts). A body with a 10 MB description would otherwise be
 * kept whole in memory, in the response cache and in every sidecar.
 */
export const MAX_DESCRIPTION_CHARS = 256 * 1024;
export const MAX_TEXT_CHARS = 64 * 1024;
const TRUNCATED_MARK = '…[truncated]';

/** What an API body holds at its root: one object, a list of them, or `{ items: [...] }`. */
export type ApiBodyKind = 'version' | 'model' | 'image';

export interface TruncatedText {
  /** The body (or list element) it came from: `version 12 of model 3`, `model 3 ("Name")`. */
  owner: string;
  /** The field, under the object below the owner it belongs to: `description`, `version 12: description`, `image 7: meta.prompt`. */
  field: string;
  /** Length before and after. */
  length: number;
  kept: number;
}

/** The kind of an object found as an element of an array under this key. */
const ELEMENT_KINDS: Record<string, string> = { modelVersions: 'version', images: 'image', files: 'file' };

/**
 * Cuts every string in a parsed API body down to its cap, in place, and says which were cut.
 * Run on every body the client receives (from the network or from the response cache), before
 * it is cached, parsed or kept: the one place text is capped.
 */
export function capApiText(body: unknown, kind: ApiBodyKind): TruncatedText[] {
  const truncated: TruncatedText[] = [];
  /** `inner`: the labelled objects between the owner and here (`version 12`, `image 7`). */
  type Entry = { value: unknown; owner: string; inner: string[]; field: string[]; elementKind?: string | undefined };
  const roots: Entry[] = [];
  const root = (value: unknown, index: number | undefined): Entry => ({
    value,
    owner: labelOf(value, kind) ?? (index === undefined ? `the ${kind} answer` : `${kind} [${index}]`),
    inner: [],
    field: [],
  });
  if (Array.isArray(body)) body.forEach((value, index) => roots.push(root(value, index)));
  else if (isObject(body) && Array.isArray(body.items) && kind !== 'version') {
    body.items.forEach((value, index) => roots.push(root(value, index)));
    for (const [key, value] of Object.entries(body)) if (key !== 'items') roots.push({ value, owner: `the ${kind} list`, inner: [], field: [key] });
  } else roots.push(root(body, undefined));
  const note = (entry: Entry, field: string, length: number, kept: number) =>
    truncated.push({ owner: entry.owner, field: entry.inner.length > 0 ? `${entry.inner.join(' › ')}: ${field}` : field, length, kept });
  // Iterative: a hostile body nested thousands deep must not overflow the stack.
  const stack = roots.reverse();
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { value, field } = entry;
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index -= 1) {
        const item = value[index];
        const here = [...field.slice(0, -1), `${field.at(-1) ?? ''}[${index}]`];
        if (typeof item === 'string') {
          const cut = capString(item, MAX_TEXT_CHARS);
          if (cut !== item) {
            value[index] = cut;
            note(entry, here.join('.'), item.length, MAX_TEXT_CHARS);
          }
          continue;
        }
        const label = entry.elementKind !== undefined ? labelOf(item, entry.elementKind) : undefined;
        stack.push(label !== undefined ? { value: item, owner: entry.owner, inner: [...entry.inner, label], field: [] } : { ...entry, value: item, field: here, elementKind: undefined });
      }
      continue;
    }
    if (!isObject(value)) continue;
    for (const [key, inner] of Object.entries(value)) {
      if (typeof inner === 'string') {
        const cap = key === 'description' ? MAX_DESCRIPTION_CHARS : MAX_TEXT_CHARS;
        const cut = capString(inner, cap);
        if (cut !== inner) {
          value[key] = cut;
          note(entry, [...field, key].join('.'), inner.length, cap);
        }
      } else if (inner !== null && typeof inner === 'object') {
        stack.push({ ...entry, value: inner, field: [...field, key], elementKind: Array.isArray(inner) ? ELEMENT_KINDS[key] : undefined });
      }
    }
  }
  return truncated;
}

function capString(text: string, cap: number): string {
  if (text.length <= cap) return text;
  let end = cap;
  // Never half a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end) + TRUNCATED_MARK;
}

/** `version 12 of model 3`, `model 3 ("Name")`, `image 7`, or undefined without a numeric id. */
function labelOf(value: unknown, kind: string): string | undefined {
  if (!isObject(value) || typeof value.id !== 'number') return undefined;
  if (kind === 'version' && typeof value.modelId === 'number') return `version ${value.id} of model ${value.modelId}`;
  if (kind === 'model' && typeof value.name === 'string') {
    const name = value.name.length > 60 ? `${value.name.slice(0, 60)}…` : value.name;
    return `model ${value.id} (${JSON.stringify(name)})`;
  }
  return `${kind} ${value.id}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
