/**
 * The metadata sidecar (`{model_name}.json` by default, as in the seed). Its top level is the
 * model-version body as the seed wrote it (plus `parentModel`, `siblingVersions`,
 * `siblingVersionsFetchedAt`), so readers of seed sidecars keep working. What we need to rebuild
 * a record offline lives under the `civitscraper` key, including the untouched version body,
 * so top-level keys may be edited by other tools (A1111's editor shares this file name) without
 * corrupting anything.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelSchema, ModelVersionSchema, type Model, type ModelVersion } from '../civitai/schemas.ts';
import { HashesSchema, LocalImageSchema, type LocalImage, type ModelRecord } from '../records/schema.ts';
import { toJsonText, writeFileAtomic, type WriteOutcome } from '../util/atomic-write.ts';
import { A1111_KEYS, mergeA1111, type A1111Metadata } from './a1111.ts';

export const SIDECAR_FORMAT = 2;

const StoredImageSchema = LocalImageSchema.omit({ path: true, still: true }).extend({
  /** Relative to the sidecar's folder, so a sidecar moved with its model stays valid. */
  file: z.string(),
  still: z.string().optional(),
});

const OwnSectionSchema = z.looseObject({
  format: z.number(),
  file: z.looseObject({ name: z.string(), size: z.number(), mtimeMs: z.number() }),
  hashes: HashesSchema,
  checkedAt: z.string().optional(),
  version: ModelVersionSchema,
  model: ModelSchema.optional(),
  images: z.array(StoredImageSchema).default([]),
  /** The A1111 user-metadata values we wrote last time (so later runs can tell ours from the user's). */
  a1111: z.record(z.string(), z.unknown()).optional(),
  /** The WebUI preview we wrote (relative), the only one a later run may replace. */
  webuiPreview: z.string().optional(),
  /** Enrichment or previews failed when this was written: the next run completes it. */
  incomplete: z.boolean().optional(),
});

export interface StoredSidecar {
  version: ModelVersion;
  model?: Model;
  hashes: ModelRecord['hashes'];
  images: LocalImage[];
  checkedAt?: string;
  file: { name: string; size: number; mtimeMs: number };
  a1111?: A1111Metadata;
  webuiPreview?: string;
  incomplete?: boolean;
}

export type SidecarRead =
  /** `empty`: a file is there but holds nothing (0 bytes, or only white space): written over like a missing one. */
  | { kind: 'missing'; empty?: true }
  /** Ours. */
  | { kind: 'own'; stored: StoredSidecar; raw: Record<string, unknown> }
  /** Written by the Python CivitScraper: the raw version body. Upgraded on the next write. */
  | { kind: 'seed'; version: ModelVersion; raw: Record<string, unknown> }
  /** An A1111/Forge user-metadata file: merged into, its keys never changed. */
  | { kind: 'a1111'; raw: Record<string, unknown> }
  /** Somebody else's file at our path: never overwritten. */
  | { kind: 'foreign'; reason: string }
  | { kind: 'unreadable'; reason: string };

export async function readSidecar(sidecarPath: string): Promise<SidecarRead> {
  let text: string;
  try {
    // A pipe at this path would block the read forever.
    if (!(await stat(sidecarPath)).isFile()) return { kind: 'unreadable', reason: 'it is not a regular file' };
    text = await readFile(sidecarPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: (error as Error).message };
  }
  // Nothing to lose: what a copy that died half way or a full disk leaves. Ours to write again.
  if (text.trim() === '') return { kind: 'missing', empty: true };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'foreign', reason: 'it is not valid JSON' };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { kind: 'foreign', reason: 'it is not a JSON object' };
  const record = raw as Record<string, unknown>;
  const own = OwnSectionSchema.safeParse(record.civitscraper);
  if (own.success) {
    const folder = path.dirname(sidecarPath);
    return {
      kind: 'own',
      raw: record,
      stored: {
        version: own.data.version,
        model: own.data.model,
        hashes: own.data.hashes,
        checkedAt: own.data.checkedAt,
        file: own.data.file,
        ...(own.data.a1111 ? { a1111: own.data.a1111 as A1111Metadata } : {}),
        ...(own.data.webuiPreview ? { webuiPreview: path.resolve(folder, own.data.webuiPreview) } : {}),
        ...(own.data.incomplete ? { incomplete: true } : {}),
        images: own.data.images.map(({ file, still, ...image }) => ({
          ...image,
          path: path.resolve(folder, file),
          ...(still ? { still: path.resolve(folder, still) } : {}),
        })),
      },
    };
  }
  const version = ModelVersionSchema.safeParse(record);
  if (version.success && typeof record.modelId === 'number' && Array.isArray(record.files)) {
    return { kind: 'seed', version: version.data, raw: record };
  }
  if (Object.keys(record).length === 0 || A1111_KEYS.some((key) => key in record)) return { kind: 'a1111', raw: record };
  return { kind: 'foreign', reason: 'it was not written by CivitScraper or an A1111-style WebUI' };
}

export interface SidecarContent {
  record: ModelRecord;
  version: ModelVersion;
  sidecarPath: string;
  /** A1111 values to merge in when this file is also the WebUI's user-metadata file. */
  a1111?: { values: A1111Metadata; lastWritten?: A1111Metadata };
  /** A1111 values written into a separate user-metadata file (remembered here). */
  a1111Written?: A1111Metadata;
  /** The WebUI preview written for this model (remembered here). */
  webuiPreview?: string;
  incomplete?: boolean;
}

/**
 * The document to write, given what is on disk now. Keys we do not own survive: another
 * tool's keys, and every A1111 key a user set.
 */
export function buildSidecar(content: SidecarContent, existing: SidecarRead): Record<string, unknown> {
  const { record, version, sidecarPath } = content;
  const folder = path.dirname(sidecarPath);
  const model = record.model;
  const fetchedAt = record.civitai.checkedAt ? Date.parse(record.civitai.checkedAt) / 1000 : undefined;
  const seedBody: Record<string, unknown> = {
    ...version,
    ...(model
      ? {
          parentModel: {
            id: model.id,
            name: model.name,
            type: model.type,
            nsfw: model.nsfw ?? false,
            creator: { username: model.creator?.username ?? 'Unknown' },
            ...(model.tags ? { tags: model.tags } : {}),
          },
          siblingVersions: siblingVersions(model, version.id),
          ...(fetchedAt ? { siblingVersionsFetchedAt: fetchedAt } : {}),
        }
      : {}),
  };
  const own = {
    format: SIDECAR_FORMAT,
    file: { name: record.file.name, size: record.file.size, mtimeMs: record.file.mtimeMs },
    hashes: record.hashes,
    ...(record.civitai.checkedAt ? { checkedAt: record.civitai.checkedAt } : {}),
    version,
    ...(model ? { model } : {}),
    ...(content.webuiPreview ? { webuiPreview: toRelative(folder, content.webuiPreview) } : {}),
    ...(content.incomplete ? { incomplete: true } : {}),
    images: record.images.map(({ path: imagePath, still, ...image }) => ({
      ...image,
      file: toRelative(folder, imagePath),
      ...(still ? { still: toRelative(folder, still) } : {}),
    })),
  };

  // Keys of an earlier document that are not ours stay, in their order.
  const kept = existing.kind === 'own' || existing.kind === 'a1111' ? { ...existing.raw } : {};
  if (content.a1111) {
    // In the combined file `description` is A1111's (plain text); CivitAI's HTML stays in
    // `civitscraper.version`.
    const { description: _versionHtml, ...bodyWithoutDescription } = seedBody;
    void _versionHtml;
    const { document, written } = mergeA1111({ ...kept, ...bodyWithoutDescription }, content.a1111.values, content.a1111.lastWritten);
    return inCanonicalOrder(document, [...Object.keys(bodyWithoutDescription), ...A1111_KEYS, ...Object.keys(content.a1111.values)], {
      ...own,
      a1111: written,
    });
  }
  return inCanonicalOrder({ ...kept, ...seedBody }, Object.keys(seedBody), {
    ...own,
    ...(content.a1111Written ? { a1111: content.a1111Written } : {}),
  });
}

/**
 * Our keys first in a fixed order, then anybody else's, then our section: the same content
 * gives the same bytes whatever the file's history (a run completed after an outage writes what
 * an undisturbed run writes).
 */
function inCanonicalOrder(document: Record<string, unknown>, leading: readonly string[], own: Record<string, unknown>): Record<string, unknown> {
  const ordered: Record<string, unknown> = {};
  for (const key of leading) if (key in document && !(key in ordered)) ordered[key] = document[key];
  for (const [key, value] of Object.entries(document)) if (!(key in ordered) && key !== 'civitscraper') ordered[key] = value;
  ordered.civitscraper = own;
  return ordered;
}

export async function writeSidecar(sidecarPath: string, document: Record<string, unknown>): Promise<WriteOutcome> {
  return writeFileAtomic(sidecarPath, toJsonText(document));
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

function toRelative(folder: string, file: string): string {
  return path.relative(folder, file).split(path.sep).join('/');
}
