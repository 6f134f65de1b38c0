/**
 * What a page shows of a record, derived in one place so the gallery card, the model page and
 * the search index agree (name falls back to the file name, creator to "unknown", …).
 */
import type { ModelRecord } from '../records/schema.ts';
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
  /** Number of versions the model has on CivitAI. */
  versionCount: number;
  stats: { downloads?: number; thumbsUp?: number; rating?: number; ratingCount?: number };
  createdAt?: string;
  updatedAt?: string;
  civitaiUrl?: string;
  /** `<lora:stem:1>` for LoRA-like models, the file stem for embeddings. */
  usage?: string;
}

const LORA_TYPES = new Set(['LORA', 'LOCON', 'LYCORIS', 'DORA']);

export function modelView(record: ModelRecord, settings: Pick<SiteSettings, 'domains' | 'nsfwThreshold'>): ModelView {
  const version = record.version;
  const model = record.model;
  const type = model?.type ?? version?.model?.type ?? record.file.inputType;
  const nsfw = Boolean(model?.nsfw ?? version?.model?.nsfw) || (version?.nsfwLevel ?? 0) >= settings.nsfwThreshold;
  const modelId = version?.modelId ?? model?.id;
  const domain = nsfw ? settings.domains.nsfw : settings.domains.sfw;
  const stats = version?.stats ?? undefined;
  return {
    id: record.id,
    name: model?.name ?? version?.model?.name ?? record.file.stem,
    ...(version?.name ? { versionName: version.name } : {}),
    type,
    ...(version?.baseModel ? { baseModel: version.baseModel } : {}),
    ...(model?.creator?.username ? { creator: model.creator.username } : {}),
    tags: (model?.tags ?? []).map((tag) => (typeof tag === 'string' ? tag : tag.name)),
    triggerWords: (version?.trainedWords ?? []).map((word) => word.trim()).filter(Boolean),
    onCivitai: record.civitai.status === 'identified' || Boolean(version),
    status: record.civitai.status,
    nsfw,
    versionCount: model?.modelVersions?.length ?? (version ? 1 : 0),
    stats: {
      downloads: stats?.downloadCount ?? model?.stats?.downloadCount ?? undefined,
      thumbsUp: stats?.thumbsUpCount ?? model?.stats?.thumbsUpCount ?? undefined,
      rating: model?.stats?.rating ?? stats?.rating ?? undefined,
      ratingCount: model?.stats?.ratingCount ?? stats?.ratingCount ?? undefined,
    },
    ...(version?.createdAt ? { createdAt: version.createdAt } : {}),
    ...(version?.updatedAt ? { updatedAt: version.updatedAt } : {}),
    ...(modelId && version
      ? { civitaiUrl: `https://${domain}/models/${modelId}?modelVersionId=${version.id}` }
      : {}),
    ...usageFor(type, record.file.stem),
  };
}

function usageFor(type: string, stem: string): { usage?: string } {
  if (LORA_TYPES.has(type.toUpperCase())) return { usage: `<lora:${stem}:1>` };
  if (type.toUpperCase() === 'TEXTUALINVERSION') return { usage: stem };
  return {};
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
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? value : date.toISOString().slice(0, 10);
}
