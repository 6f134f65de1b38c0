/**
 * The metadata sidecar (`{model_name}.json` by default, as in the seed). Its top level is the
 * model-version body exactly as the seed wrote it (plus `parentModel`, `siblingVersions`,
 * `siblingVersionsFetchedAt`), so tools that read seed sidecars keep working; what only we need
 * lives under the `civitscraper` key.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelSchema, ModelVersionSchema, type Model, type ModelVersion } from '../civitai/schemas.ts';
import {
  HashesSchema,
  LocalImageSchema,
  type LocalImage,
  type ModelRecord,
} from '../records/schema.ts';
import { toJsonText, writeFileAtomic, type WriteOutcome } from '../util/atomic-write.ts';

export const SIDECAR_FORMAT = 1;

const StoredImageSchema = LocalImageSchema.omit({ path: true }).extend({
  /** Relative to the sidecar's folder, so a sidecar moved with its model stays valid. */
  file: z.string(),
});

const OwnSectionSchema = z.looseObject({
  format: z.number(),
  file: z.looseObject({ name: z.string(), size: z.number(), mtimeMs: z.number() }),
  hashes: HashesSchema,
  checkedAt: z.string().optional(),
  images: z.array(StoredImageSchema).default([]),
  model: ModelSchema.optional(),
});

export interface StoredSidecar {
  version: ModelVersion;
  model?: Model;
  hashes: ModelRecord['hashes'];
  images: LocalImage[];
  checkedAt?: string;
  file: { name: string; size: number; mtimeMs: number };
}

export type SidecarRead =
  | { kind: 'missing' }
  /** Ours (or the seed's, which we may upgrade). `stored` is absent for a seed sidecar. */
  | { kind: 'own'; stored?: StoredSidecar; raw: Record<string, unknown> }
  /** Somebody else's file at our path (e.g. an A1111 user-metadata `.json`): never overwritten. */
  | { kind: 'foreign'; reason: string }
  | { kind: 'unreadable'; reason: string };

export async function readSidecar(sidecarPath: string): Promise<SidecarRead> {
  let text: string;
  try {
    text = await readFile(sidecarPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: (error as Error).message };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'foreign', reason: 'it is not valid JSON' };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { kind: 'foreign', reason: 'it is not a JSON object' };
  const record = raw as Record<string, unknown>;
  const version = ModelVersionSchema.safeParse(record);
  const own = OwnSectionSchema.safeParse(record.civitscraper);
  if (own.success && version.success) {
    const folder = path.dirname(sidecarPath);
    return {
      kind: 'own',
      raw: record,
      stored: {
        version: stripOwnKeys(version.data),
        model: own.data.model,
        hashes: own.data.hashes,
        checkedAt: own.data.checkedAt,
        file: own.data.file,
        images: own.data.images.map(({ file, ...image }) => ({ ...image, path: path.resolve(folder, file) })),
      },
    };
  }
  // A seed sidecar: the raw version body with a model id and files.
  if (version.success && typeof record.modelId === 'number' && Array.isArray(record.files)) return { kind: 'own', raw: record };
  const a1111Keys = ['activation text', 'preferred weight', 'sd version', 'notes', 'description', 'negative text'];
  if (a1111Keys.some((key) => key in record)) {
    return { kind: 'foreign', reason: 'it is an A1111/Forge user-metadata file (it has keys like "activation text")' };
  }
  return { kind: 'foreign', reason: 'it was not written by CivitScraper' };
}

export function buildSidecar(record: ModelRecord, sidecarPath: string, version: ModelVersion): Record<string, unknown> {
  const folder = path.dirname(sidecarPath);
  const model = record.model;
  const fetchedAt = record.civitai.checkedAt ? Date.parse(record.civitai.checkedAt) / 1000 : undefined;
  return {
    ...version,
    ...(model
      ? {
          parentModel: {
            id: model.id,
            name: model.name,
            type: model.type,
            nsfw: model.nsfw ?? false,
            creator: { username: model.creator?.username ?? 'Unknown' },
          },
          siblingVersions: siblingVersions(model, version.id),
          ...(fetchedAt ? { siblingVersionsFetchedAt: fetchedAt } : {}),
        }
      : {}),
    civitscraper: {
      format: SIDECAR_FORMAT,
      file: { name: record.file.name, size: record.file.size, mtimeMs: record.file.mtimeMs },
      hashes: record.hashes,
      ...(record.civitai.checkedAt ? { checkedAt: record.civitai.checkedAt } : {}),
      images: record.images.map(({ path: imagePath, ...image }) => ({
        ...image,
        file: path.relative(folder, imagePath).split(path.sep).join('/'),
      })),
      ...(model ? { model } : {}),
    },
  };
}

export async function writeSidecar(sidecarPath: string, sidecar: Record<string, unknown>): Promise<WriteOutcome> {
  return writeFileAtomic(sidecarPath, toJsonText(sidecar));
}

/** The seed's `siblingVersions`: every published version, newest first. */
export function siblingVersions(model: Model, currentVersionId: number) {
  return (model.modelVersions ?? [])
    .map((version) => ({
      id: version.id,
      name: version.name ?? '',
      baseModel: version.baseModel ?? '',
      createdAt: version.createdAt ?? version.publishedAt ?? '',
      downloadCount: version.stats?.downloadCount ?? 0,
      isCurrent: version.id === currentVersionId,
    }))
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

/**
 * The parent model without what the site never shows (per-version images and file lists):
 * a 30-version checkpoint body shrinks from ~100 KB to a few KB per record.
 */
export function slimModel(model: Model): Model {
  return {
    ...model,
    modelVersions: (model.modelVersions ?? []).map(({ images, files, description, ...version }) => {
      void images;
      void files;
      void description;
      return version;
    }),
  };
}

function stripOwnKeys(version: ModelVersion): ModelVersion {
  const { civitscraper, parentModel, siblingVersions: siblings, siblingVersionsFetchedAt, ...rest } = version as ModelVersion &
    Record<string, unknown>;
  void civitscraper;
  void parentModel;
  void siblings;
  void siblingVersionsFetchedAt;
  return rest as ModelVersion;
}
