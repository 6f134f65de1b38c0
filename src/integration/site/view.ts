/**
 * What a page shows of a record, derived in one place so the gallery card, the model page, the
 * plain list and the search index agree (name falls back to the file name, creator to none, …).
 * Framework-free: the pages, the index builder, the bench and the tests all use it.
 */
import { NSFW_LEVELS } from '../engine/media/nsfw.ts';
import type { LocalImage, ModelRecord } from '../engine/records/schema.ts';
import { hasCountedUpdate } from '../engine/updates/rules.ts';
import type { SiteSettings } from './settings.ts';

export interface ModelView {
  id: string;
  name: string;
  versionName?: string;
  type: string;
  baseModel?: string;
  creator?: string;
  tags: string[];
  triggerWords: string[];
  onCivitai: boolean;
  status: ModelRecord['civitai']['status'];
  nsfw: boolean;
  /** Content rating of the model as a level index (0 unrated, 1 PG … 5 XXX). */
  level: number;
  /** Number of versions the model has on CivitAI. */
  versionCount: number;
  stats: { downloads?: number; thumbsUp?: number; rating?: number; ratingCount?: number };
  createdAt?: string;
  updatedAt?: string;
  civitaiUrl?: string;
  modelId?: number;
  versionId?: number;
  /** `<lora:stem:1>` for LoRA-like models, the file stem for embeddings. */
  usage?: string;
  /** `<input path id>` or `<input path id>/<sub/folder>`. */
  folder: string;
}

type ViewSettings = Pick<SiteSettings, 'domains' | 'nsfwThreshold'>;

const LORA_TYPES = new Set(['LORA', 'LOCON', 'LYCORIS', 'DORA']);

export function modelView(record: ModelRecord, settings: ViewSettings): ModelView {
  const version = record.version;
  const model = record.model;
  const type = model?.type ?? version?.model?.type ?? record.file.inputType;
  const nsfw = isNsfwRecord(record, settings);
  const modelId = version?.modelId ?? model?.id ?? undefined;
  const stats = version?.stats ?? undefined;
  return {
    id: record.id,
    name: (model?.name ?? version?.model?.name ?? record.file.stem).trim() || record.file.stem,
    ...(version?.name ? { versionName: version.name } : {}),
    type,
    ...(version?.baseModel ? { baseModel: version.baseModel } : {}),
    ...(model?.creator?.username ? { creator: model.creator.username } : {}),
    tags: unique((model?.tags ?? []).map((tag) => (typeof tag === 'string' ? tag : tag.name).trim()).filter(Boolean)),
    triggerWords: unique((version?.trainedWords ?? []).map((word) => word.trim()).filter(Boolean)),
    onCivitai: record.civitai.status === 'identified' || Boolean(version),
    status: record.civitai.status,
    nsfw,
    level: modelLevel(record),
    versionCount: model?.modelVersions?.length ?? (version ? 1 : 0),
    stats: {
      downloads: stats?.downloadCount ?? model?.stats?.downloadCount ?? undefined,
      thumbsUp: stats?.thumbsUpCount ?? model?.stats?.thumbsUpCount ?? undefined,
      rating: model?.stats?.rating ?? stats?.rating ?? undefined,
      ratingCount: model?.stats?.ratingCount ?? stats?.ratingCount ?? undefined,
    },
    ...(version?.createdAt ? { createdAt: version.createdAt } : {}),
    ...(version?.updatedAt ? { updatedAt: version.updatedAt } : {}),
    ...(modelId !== undefined ? { modelId } : {}),
    ...(version ? { versionId: version.id } : {}),
    ...(modelId !== undefined && version ? { civitaiUrl: civitaiUrl(modelId, version.id, nsfw, settings) } : {}),
    ...usageFor(type, record.file.stem),
    folder: folderKey(record),
  };
}

export function civitaiUrl(modelId: number, versionId: number | undefined, nsfw: boolean, settings: ViewSettings): string {
  const domain = nsfw ? settings.domains.nsfw : settings.domains.sfw;
  return `https://${domain}/models/${modelId}${versionId !== undefined ? `?modelVersionId=${versionId}` : ''}`;
}

/** The seed's rule: NSFW when the model says so or the version's level reaches the threshold. */
export function isNsfwRecord(record: ModelRecord, settings: Pick<SiteSettings, 'nsfwThreshold'>): boolean {
  const version = record.version;
  return (
    Boolean(record.model?.nsfw ?? version?.model?.nsfw) ||
    (version?.nsfwLevel ?? 0) >= settings.nsfwThreshold
  );
}

/** Whether a record is published at all (`html.sfw_only` leaves NSFW models out). */
export function inSite(record: ModelRecord, settings: Pick<SiteSettings, 'sfwOnly' | 'nsfwThreshold'>): boolean {
  return !settings.sfwOnly || !isNsfwRecord(record, settings);
}

/** Label of each level index: 0 for none, then 1 PG … 5 XXX. */
export const LEVEL_NAMES: readonly string[] = ['Unrated', ...NSFW_LEVELS.map((level) => level.label)];
/** Bit value of each level index. */
const LEVEL_BITS: readonly number[] = [0, ...NSFW_LEVELS.map((level) => level.value)];

/** Level index (1 PG … 5 XXX) of a CivitAI level value or bitmask; 0 for none. */
export function levelIndex(value: number | null | undefined): number {
  if (!value || value <= 0) return 0;
  let index = 1;
  while (index < NSFW_LEVELS.length && value >= LEVEL_BITS[index + 1]!) index += 1;
  return index;
}

/** The version's level, else the model's, else the highest of its images, else the NSFW flag. */
export function modelLevel(record: ModelRecord): number {
  const fromVersion = levelIndex(record.version?.nsfwLevel);
  if (fromVersion) return fromVersion;
  const fromModel = levelIndex(record.model?.nsfwLevel);
  if (fromModel) return fromModel;
  const fromImages = Math.max(0, ...record.images.map((image) => levelIndex(image.nsfwLevel)));
  if (fromImages) return fromImages;
  if (record.model?.nsfw ?? record.version?.model?.nsfw) return 3;
  return record.version ? 1 : 0;
}

/** The images a site may show (`sfw_only`: below R). */
export function siteImages<T extends Pick<LocalImage, 'nsfwLevel'>>(images: readonly T[], settings: Pick<SiteSettings, 'sfwOnly'>): T[] {
  return settings.sfwOnly ? images.filter((image) => image.nsfwLevel < 4) : [...images];
}

const STILL_IMAGE = /\.(jpe?g|png|webp|avif|gif|tiff?)$/i;

/** A picture file for an image: the image itself, or a video's still frame. */
export function pictureOf(image: Pick<LocalImage, 'type' | 'path' | 'still'>): string | undefined {
  const picture = image.type === 'video' ? image.still : image.path;
  return picture && STILL_IMAGE.test(picture) ? picture : undefined;
}

/** The gallery card image: the first image the site may show that has a picture file. */
export function coverImage<T extends LocalImage>(record: { images: readonly T[] }, settings: Pick<SiteSettings, 'sfwOnly'>): T | undefined {
  return siteImages(record.images, settings).find((image) => pictureOf(image) !== undefined);
}

export function folderKey(record: Pick<ModelRecord, 'file'>): string {
  return record.file.folder ? `${record.file.inputPathId}/${record.file.folder}` : record.file.inputPathId;
}

/** How a model of `type` goes into a prompt: as a LoRA tag, by its name (embeddings), or not at all. */
export function usageKind(type: string): 'lora' | 'embedding' | undefined {
  if (LORA_TYPES.has(type.toUpperCase())) return 'lora';
  if (type.toUpperCase() === 'TEXTUALINVERSION') return 'embedding';
  return undefined;
}

/**
 * The usage line with a weight (LoRA-like models; the user's preferred weight, 1 by default).
 * The gallery's script has the same rule (`usageLine` in client/gallery-core.js).
 */
export function usageLine(type: string, stem: string, weight = 1): string | undefined {
  const kind = usageKind(type);
  if (kind === 'lora') return `<lora:${stem}:${Math.round(weight * 100) / 100}>`;
  if (kind === 'embedding') return stem;
  return undefined;
}

function usageFor(type: string, stem: string): { usage?: string } {
  const usage = usageLine(type, stem);
  return usage ? { usage } : {};
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** What one record needs to know about the others (local versions of the same model, copies). */
export interface LibraryContext {
  /** CivitAI version id → ids of the local files of that version. */
  localByVersion: Map<number, string[]>;
  /** SHA-256 (upper case) → ids of the local files with those bytes. */
  localBySha?: Map<string, string[]>;
}

export function libraryContext(records: Iterable<ModelRecord>): LibraryContext {
  const localByVersion = new Map<number, string[]>();
  const localBySha = new Map<string, string[]>();
  for (const record of records) {
    const sha = record.hashes.SHA256?.toUpperCase();
    if (sha) {
      const same = localBySha.get(sha) ?? [];
      same.push(record.id);
      localBySha.set(sha, same);
    }
    const versionId = record.version?.id;
    if (versionId === undefined) continue;
    const list = localByVersion.get(versionId) ?? [];
    list.push(record.id);
    localByVersion.set(versionId, list);
  }
  return { localByVersion, localBySha };
}

/**
 * The other local files that duplicate this one: byte for byte (same SHA-256), and as the same
 * CivitAI version (a re-download, a renamed copy, another precision of one release).
 */
export function duplicatesOf(record: ModelRecord, context: LibraryContext): { sameFile: string[]; sameVersion: string[] } {
  const sha = record.hashes.SHA256?.toUpperCase();
  const others = (ids: string[] | undefined) => (ids ?? []).filter((id) => id !== record.id);
  return {
    sameFile: sha ? others(context.localBySha?.get(sha)) : [],
    sameVersion: record.version ? others(context.localByVersion.get(record.version.id)) : [],
  };
}

/** Whether a record has any duplicate in the library. */
export function isDuplicate(record: ModelRecord, context: LibraryContext): boolean {
  const { sameFile, sameVersion } = duplicatesOf(record, context);
  return sameFile.length > 0 || sameVersion.length > 0;
}

export interface VersionRow {
  id: number;
  name: string;
  baseModel?: string;
  createdAt?: string;
  downloads?: number;
  current: boolean;
  /** Ids of the local files of this version (pages to link to). */
  local: string[];
  civitaiUrl?: string;
}

/**
 * Every version of the record's model, newest first: the model body's list when there is one,
 * else the record's own version. Local ones carry the ids of their pages.
 */
export function versionRows(record: ModelRecord, context: LibraryContext, settings: ViewSettings): VersionRow[] {
  const modelId = record.version?.modelId ?? record.model?.id ?? undefined;
  const nsfw = isNsfwRecord(record, settings);
  const versions = record.model?.modelVersions?.length
    ? record.model.modelVersions
    : record.version
      ? [record.version]
      : [];
  const rows = versions.map((version, position) => ({
    position,
    row: {
      id: version.id,
      name: version.name?.trim() || `Version ${version.id}`,
      ...(version.baseModel ? { baseModel: version.baseModel } : {}),
      ...((version.createdAt ?? version.publishedAt) ? { createdAt: (version.createdAt ?? version.publishedAt) as string } : {}),
      ...(typeof version.stats?.downloadCount === 'number' ? { downloads: version.stats.downloadCount } : {}),
      current: version.id === record.version?.id,
      local: context.localByVersion.get(version.id) ?? [],
      ...(modelId !== undefined ? { civitaiUrl: civitaiUrl(modelId, version.id, nsfw, settings) } : {}),
    } satisfies VersionRow,
  }));
  // CivitAI lists newest first; dates break ties in bodies that lost their order.
  rows.sort((a, b) => (b.row.createdAt ?? '').localeCompare(a.row.createdAt ?? '') || a.position - b.position);
  return rows.map(({ row }) => row);
}

/**
 * An update of this file's family (same base model and variant) exists on CivitAI, published
 * after the newest local version of that family, and is not in early access, paid, on-site only
 * or ignored: the engine's rules (engine/updates/rules.ts), from the record's `updates` when the
 * engine set them, else from the record and the library's versions.
 */
export function hasNewerVersion(record: ModelRecord, context: LibraryContext, _settings: ViewSettings): boolean {
  return hasCountedUpdate(record, (versionId) => context.localByVersion.has(versionId));
}

/** Average colour of a BlurHash (its DC component) as `#rrggbb`, for a placeholder. */
export function blurhashColour(hash: string | undefined): string | undefined {
  if (!hash || hash.length < 6) return undefined;
  const value = decode83(hash.slice(2, 6));
  if (value === undefined) return undefined;
  return `#${value.toString(16).padStart(6, '0')}`;
}

const BASE83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';

function decode83(text: string): number | undefined {
  let value = 0;
  for (const char of text) {
    const digit = BASE83.indexOf(char);
    if (digit < 0) return undefined;
    value = value * 83 + digit;
  }
  return value <= 0xffffff ? value : undefined;
}

export function formatCount(value: number | undefined): string {
  if (value === undefined) return '–';
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (value >= 1_000) return `${(value / 1_000).toFixed(1)}k`;
  return String(value);
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

export function formatDate(value: string | undefined): string {
  if (!value) return '–';
  const date = parseDate(value);
  return date === undefined ? value : new Date(date).toISOString().slice(0, 10);
}

/** Milliseconds since the epoch; CivitAI dates without a zone are UTC. */
export function parseDate(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const time = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`).getTime();
  return Number.isNaN(time) ? undefined : time;
}

export interface GenerationParams {
  prompt?: string;
  negativePrompt?: string;
  /** Sampler, steps, CFG, seed, model, size, … in a fixed order, as text. */
  settings: { label: string; value: string }[];
  /** Everything as the A1111 parameters text people paste into a UI. */
  text: string;
}

const PARAM_KEYS: [string, string[]][] = [
  ['Sampler', ['sampler']],
  ['Scheduler', ['scheduler', 'Schedule type']],
  ['Steps', ['steps']],
  ['CFG scale', ['cfgScale']],
  ['Seed', ['seed']],
  ['Model', ['Model', 'model', 'baseModel']],
  ['Size', ['Size']],
  ['Clip skip', ['clipSkip', 'Clip skip']],
  ['Denoising strength', ['Denoising strength', 'denoise']],
];

/** The generation parameters of an image's `meta`, or undefined when it has none worth showing. */
export function generationParams(meta: Record<string, unknown> | null | undefined): GenerationParams | undefined {
  if (!meta || typeof meta !== 'object') return undefined;
  const text = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value.trim() || undefined;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    return undefined;
  };
  const prompt = text(meta.prompt);
  const negativePrompt = text(meta.negativePrompt);
  const settings: { label: string; value: string }[] = [];
  for (const [label, keys] of PARAM_KEYS) {
    const value = keys.map((key) => text(meta[key])).find((found) => found !== undefined);
    if (value !== undefined) settings.push({ label, value });
  }
  if (!prompt && !negativePrompt && settings.length === 0) return undefined;
  const lines = [
    ...(prompt ? [prompt] : []),
    ...(negativePrompt ? [`Negative prompt: ${negativePrompt}`] : []),
    ...(settings.length ? [settings.map(({ label, value }) => `${label}: ${value}`).join(', ')] : []),
  ];
  return {
    ...(prompt ? { prompt } : {}),
    ...(negativePrompt ? { negativePrompt } : {}),
    settings,
    text: lines.join('\n'),
  };
}

export interface PageImage {
  /** 1-based position among the images the site shows. */
  n: number;
  image: LocalImage;
  /** Still picture to resize (the image, or a video's still frame). */
  picture?: string;
  /** Resized picture, relative to the model page (the cover reuses the gallery thumbnail). */
  thumb?: string;
  /** The file as downloaded (image or video), relative to the model page. */
  full: string;
  /** Source of `full` on disk. */
  fullSource: string;
  isVideo: boolean;
}

const MEDIA_EXTENSION = /\.[a-z0-9]{2,5}$/i;

/**
 * The images of a model page and where they live in the site: `preview-<n>.<ext>` (the file
 * itself, for the viewer), `image-<n>.webp` (resized), and the gallery's `thumbs/<id>.webp` for
 * the cover, so it is made and stored once.
 */
export function pageImages(record: ModelRecord, settings: Pick<SiteSettings, 'sfwOnly'>): PageImage[] {
  const cover = coverImage(record, settings);
  return siteImages(record.images, settings).map((image, index) => {
    const n = index + 1;
    const picture = pictureOf(image);
    const ext = (MEDIA_EXTENSION.exec(image.path)?.[0] ?? (image.type === 'video' ? '.mp4' : '.jpeg')).toLowerCase();
    const thumb = picture
      ? image === cover
        ? `../../thumbs/${encodeURIComponent(record.id)}.webp`
        : `image-${n}.webp`
      : undefined;
    return {
      n,
      image,
      ...(picture ? { picture } : {}),
      ...(thumb ? { thumb } : {}),
      full: `preview-${n}${ext}`,
      fullSource: image.path,
      isVideo: image.type === 'video',
    };
  });
}
