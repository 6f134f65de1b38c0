/**
 * The metadata sidecar (`{model_name}.json` by default, as in the seed). Its top level is the
 * model-version body as the seed wrote it (plus `parentModel`, `siblingVersions`,
 * `siblingVersionsFetchedAt`), so readers of seed sidecars keep working. What we need to rebuild
 * a record offline lives under the `civitscraper` key, including the untouched version body,
 * so top-level keys may be edited by other tools (A1111's editor shares this file name) without
 * corrupting anything.
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelSchema, ModelVersionSchema, type Model, type ModelVersion } from '../civitai/schemas.ts';
import { copyLazy, defineLazy, type LazyValue } from '../records/lazy.ts';
import { HashesSchema, LocalImageSchema, type LocalImage, type ModelRecord } from '../records/schema.ts';
import { compact } from '../scan/discover.ts';
import { inDir } from './paths.ts';
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
  /** Which source answered (see records/schema.ts `civitai.source`). */
  source: z.string().optional(),
  linked: z.boolean().optional(),
  removedFromCivitai: z.boolean().optional(),
  /** A manual link (see `sidecarLink`). */
  link: z.union([z.string(), z.number()]).optional(),
});

/**
 * `civitscraper.link`: a manual link another tool (or the user) may write: a version id, a
 * civitai.com/civitai.red URL with `modelVersionId=`, or an AIR. Read from any JSON sidecar.
 */
export function sidecarLink(read: SidecarRead): string | number | undefined {
  if (read.kind === 'own' && read.stored.link !== undefined) return read.stored.link;
  if (read.kind !== 'own' && read.kind !== 'seed' && read.kind !== 'a1111') return undefined;
  const section = read.raw.civitscraper;
  if (!section || typeof section !== 'object') return undefined;
  const link = (section as Record<string, unknown>).link;
  return typeof link === 'string' || typeof link === 'number' ? link : undefined;
}

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
  source?: string;
  linked?: boolean;
  removedFromCivitai?: boolean;
  link?: string | number;
}

/**
 * What the repair check needs of a sidecar's A1111 keys, known without its document (from the
 * state store's stamp): the keys we wrote (`civitscraper.a1111`), and whether one of them is
 * empty at the top level (the WebUI's user metadata in our own file).
 */
export interface A1111Facts {
  ours: string[];
  emptyAtTop: boolean;
}

/** A1111Facts of a section and the document's top-level values. */
export function a1111Facts(section: Record<string, unknown>, top: Record<string, unknown>): A1111Facts {
  const written = section.a1111;
  const ours = written && typeof written === 'object' ? Object.keys(written) : [];
  return { ours, emptyAtTop: ours.some((key) => isEmptyValue(top[key])) };
}

/** An A1111 value that says nothing (what the repair check writes again). */
export function isEmptyValue(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

export type SidecarRead =
  /** `empty`: a file is there but holds nothing (0 bytes, or only white space): written over like a missing one. */
  | { kind: 'missing'; empty?: true }
  /**
   * Ours. `partial`: `raw` holds only the top-level A1111 keys (its body was not kept), or
   * nothing (the sidecar was not read: its stamp's `a1111` says what the repair check needs);
   * a writer reads the file again before merging into it.
   */
  | { kind: 'own'; stored: StoredSidecar; raw: Record<string, unknown>; partial?: true; a1111?: A1111Facts }
  /** Written by the Python CivitScraper: the raw version body. Upgraded on the next write. */
  | { kind: 'seed'; version: ModelVersion; raw: Record<string, unknown> }
  /** An A1111/Forge user-metadata file: merged into, its keys never changed. */
  | { kind: 'a1111'; raw: Record<string, unknown> }
  /** Somebody else's file at our path: never overwritten. */
  | { kind: 'foreign'; reason: string }
  | { kind: 'unreadable'; reason: string };

/** How often `readSidecar` read a file in this process (tests and benches count them). */
export const sidecarReadStats = { reads: 0 };

export interface ReadSidecarOptions {
  /**
   * Keep the whole document of our own sidecar in `raw` (default true). `false` keeps only the
   * A1111 keys (`partial`), so a run over 50,000 files does not hold every body twice.
   */
  keepRaw?: boolean;
}

/** A sidecar read with what the state store keeps of it (sidecar-stamps.ts). */
export interface SidecarReadWithStat {
  read: SidecarRead;
  /** The file's stat, when it is a regular file. */
  stat?: { size: number; mtimeMs: number; ctimeMs: number; ino: number };
  /** Our section as validated, when the sidecar is ours. */
  section?: Record<string, unknown>;
}

export async function readSidecar(sidecarPath: string, options: ReadSidecarOptions = {}): Promise<SidecarRead> {
  return (await readSidecarWithStat(sidecarPath, options)).read;
}

export async function readSidecarWithStat(sidecarPath: string, options: ReadSidecarOptions = {}): Promise<SidecarReadWithStat> {
  let text: string;
  let info: SidecarReadWithStat['stat'];
  try {
    // A pipe at this path would block the read forever.
    const stats = await stat(sidecarPath);
    if (!stats.isFile()) return { read: { kind: 'unreadable', reason: 'it is not a regular file' } };
    info = { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
    sidecarReadStats.reads += 1;
    text = await readFile(sidecarPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { read: { kind: 'missing' } };
    return { read: { kind: 'unreadable', reason: (error as Error).message } };
  }
  // Nothing to lose: what a copy that died half way or a full disk leaves. Ours to write again.
  if (text.trim() === '') return { read: { kind: 'missing', empty: true } };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { read: { kind: 'foreign', reason: 'it is not valid JSON' } };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { read: { kind: 'foreign', reason: 'it is not a JSON object' } };
  const record = raw as Record<string, unknown>;
  const section = validatedSection(record.civitscraper);
  if (section) {
    const stored = storedFromSection(section, path.dirname(sidecarPath));
    const read: SidecarRead =
      options.keepRaw === false ? { kind: 'own', stored, raw: a1111Top(record), partial: true } : { kind: 'own', raw: record, stored };
    return { read, stat: info, section };
  }
  const version = ModelVersionSchema.safeParse(record);
  if (version.success && typeof record.modelId === 'number' && Array.isArray(record.files)) {
    return { read: { kind: 'seed', version: version.data, raw: record }, stat: info };
  }
  if (Object.keys(record).length === 0 || A1111_KEYS.some((key) => key in record)) return { read: { kind: 'a1111', raw: record }, stat: info };
  return { read: { kind: 'foreign', reason: 'it was not written by CivitScraper or an A1111-style WebUI' }, stat: info };
}

/**
 * Our section if it validates (what the state store keeps), or undefined. The section as it is
 * in the file, not zod's copy: that one has the schema's key order, so a sidecar read and
 * written again would change bytes for nothing (the schemas transform no value; a missing
 * `images` is read as none).
 */
export function validatedSection(section: unknown): Record<string, unknown> | undefined {
  return OwnSectionSchema.safeParse(section).success ? (section as Record<string, unknown>) : undefined;
}

/**
 * The section `buildSidecar` just made, for the state store's stamp. Not validated again: it
 * was built from validated API answers (a zod pass per written sidecar was a large part of a
 * first run); only its shape is checked, so a bug cannot stamp what a read would refuse.
 */
export function builtSection(section: unknown): Record<string, unknown> | undefined {
  if (!section || typeof section !== 'object') return undefined;
  const own = section as Record<string, unknown>;
  const version = own.version as { id?: unknown } | undefined;
  const ok =
    typeof own.format === 'number' &&
    own.file !== null &&
    typeof own.file === 'object' &&
    own.hashes !== null &&
    typeof own.hashes === 'object' &&
    typeof version?.id === 'number' &&
    Array.isArray(own.images);
  return ok ? own : undefined;
}

/**
 * Our section of the sidecar as it is on disk now, validated, or undefined: where a stored body
 * comes from when the state store lost it (synchronous: it is read from a property getter).
 */
export function readOwnSectionSync(sidecarPath: string): Record<string, unknown> | undefined {
  try {
    sidecarReadStats.reads += 1;
    const record = JSON.parse(readFileSync(sidecarPath, 'utf8')) as Record<string, unknown> | null;
    return record && typeof record === 'object' ? validatedSection(record.civitscraper) : undefined;
  } catch {
    return undefined;
  }
}

/** The top-level values the repair check looks at (A1111 keys and the ones we merge). */
export function a1111Top(document: Record<string, unknown>): Record<string, unknown> {
  const top: Record<string, unknown> = {};
  for (const key of [...A1111_KEYS, 'sha256', 'modelId', 'modelVersionId']) if (key in document) top[key] = document[key];
  return top;
}

/**
 * Our section (as validated by OwnSectionSchema, or as we wrote it) as stored data, paths made
 * absolute against the sidecar's folder. No validation: the caller vouches for the section.
 * `version` and `model` stay unparsed when they are (a section from the state store).
 */
export function storedFromSection(
  section: Record<string, unknown>,
  folder: string,
  /** `version` and `model` kept apart, unparsed (a stamp from the state store). */
  bodies?: { version?: LazyValue<unknown>; model?: LazyValue<unknown> },
): StoredSidecar {
  const data = section as z.output<typeof OwnSectionSchema>;
  // Assigned one by one, in the order the spreads had: a spread of a conditional object made
  // a temporary object each, a dozen per file on every run.
  const built: Record<string, unknown> = { hashes: data.hashes, checkedAt: data.checkedAt, file: data.file };
  if (data.a1111) built.a1111 = data.a1111 as A1111Metadata;
  // Flat: path.resolve built it as a tree of a dozen string pieces, 50,000 of them held all run.
  if (data.webuiPreview) built.webuiPreview = compact(inDir(folder, data.webuiPreview));
  if (data.incomplete) built.incomplete = true;
  if (data.source) built.source = data.source;
  if (data.linked) built.linked = true;
  if (data.removedFromCivitai) built.removedFromCivitai = true;
  if (data.link !== undefined) built.link = data.link;
  built.images = data.images && data.images.length > 0 ? asStoredImages(data.images, folder) : [];
  const stored = built as unknown as StoredSidecar;
  if (bodies) {
    if (bodies.version) defineLazy(stored, 'version', bodies.version);
    if (bodies.model) defineLazy(stored, 'model', bodies.model);
    return stored;
  }
  copyLazy(stored, section, 'version');
  if ('model' in section) copyLazy(stored, section, 'model');
  return stored;
}

/**
 * A section's images as stored data has them (`path` and `still` absolute). A stamp keeps them
 * so (state/sidecar-stamps.ts): its images are used as they are, where a copy of each was two
 * objects and a path made per preview on every rerun, 100,000 of each in a large library.
 */
export function asStoredImages(images: readonly unknown[], folder: string): LocalImage[] {
  let out: LocalImage[] | undefined;
  for (const [index, image] of images.entries()) {
    const stored = inStoredForm(image);
    if (stored && !out) continue;
    if (!out) out = images.slice(0, index) as LocalImage[];
    out.push(stored ? (image as LocalImage) : storedImage(image as z.output<typeof OwnSectionSchema>['images'][number], folder));
  }
  return out ?? (images as LocalImage[]);
}

/** An image with its absolute `path` and no `file`: one a stamp kept in stored form. */
const inStoredForm = (image: unknown): boolean =>
  image !== null && typeof image === 'object' && typeof (image as { path?: unknown }).path === 'string' && !('file' in image);

/**
 * A section's image with absolute paths, key by key so that a `meta` still unparsed (a stamp
 * from the state store) stays so: a spread would read it.
 */
function storedImage(image: z.output<typeof OwnSectionSchema>['images'][number], folder: string): LocalImage {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(image)) {
    // Flat now, not when first stat'ed (the images stage): held all run either way.
    if (key === 'file') out.path = compact(inDir(folder, image.file));
    else if (key === 'still') {
      if (image.still) out.still = compact(inDir(folder, image.still));
    } else if (key === 'meta') copyLazy(out, image, 'meta');
    else out[key] = (image as Record<string, unknown>)[key];
  }
  return out as LocalImage;
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
    ...(record.civitai.source ? { source: record.civitai.source } : {}),
    ...(record.civitai.linked ? { linked: true } : {}),
    ...(record.civitai.removedFromCivitai ? { removedFromCivitai: true } : {}),
    ...(existingLink(existing) !== undefined ? { link: existingLink(existing) } : {}),
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

function existingLink(existing: SidecarRead): unknown {
  return sidecarLink(existing);
}

/**
 * `existing`: what the run found there. Nothing: the bytes are not compared first (reading a
 * file that is not there costs an exception, 50,000 times in a first run).
 */
export async function writeSidecar(sidecarPath: string, document: Record<string, unknown>, existing?: SidecarRead): Promise<WriteOutcome> {
  return writeFileAtomic(sidecarPath, toJsonText(document), { skipIfUnchanged: existing?.kind !== 'missing' });
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
