/**
 * A record is split in two for the site. The collection entry keeps what the gallery, the list
 * and every card need (names, types, tags, creator, stats, trigger words, file facts, preview
 * paths, version ids and dates); the page-only weight — description HTML, the full list of
 * sibling versions, each image's generation parameters, the training summary — goes to a small
 * JSON file per model that the model page reads while it renders.
 *
 * Why: Astro serialises every entry into one data store, bundles it into the build as a module
 * and parses it back before rendering, all in one process. At 10,000 models the heavy half of the
 * records cost about 1 GB of peak memory that way; read one page at a time, it costs nothing.
 *
 * The descriptions are stored sanitised (site/sanitize.ts), never as CivitAI sent them: the
 * sanitiser runs once when an entry is made (the entry cache keeps the result for later builds)
 * instead of on every render of the page, and a details file can only ever hand the page HTML
 * that went through it. A file from before (raw `modelDescription`) has no description to show.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ModelVersionSummarySchema } from '../engine/civitai/schemas.ts';
import type { ModelRecord } from '../engine/records/schema.ts';
import { withWriteBatch, writeFileAtomic } from '../engine/util/atomic-write.ts';
import { mapLimit } from '../engine/util/map-limit.ts';
import { TrainingSummarySchema } from '../engine/records/training.ts';
import { sanitizeDescription } from './sanitize.ts';

/**
 * Raise when the details change shape. A file is this code's own output and read back as it is,
 * without a schema parse (that was half of what a model page's own code cost): the entry cache
 * rewrites a details file that was removed or edited before any page renders (entry-cache.ts),
 * and one of another format (an older release's, with raw descriptions) reads as none.
 */
export const DETAILS_FORMAT = 2;

/** The shape of a details file (its `format` aside). */
export const ModelDetailsSchema = z.object({
  /** The model's description, else the version's, sanitised: what the page shows as HTML. */
  descriptionHtml: z.string().optional(),
  /** The version's own notes, sanitised, when the model has a description of its own as well. */
  versionNotesHtml: z.string().optional(),
  /** Every version of the parent model as the API listed it. */
  modelVersions: z.array(ModelVersionSummarySchema).optional(),
  /** Generation parameters of `images[i]` (null: none). */
  imageMeta: z.array(z.record(z.string(), z.unknown()).nullable()).optional(),
  training: TrainingSummarySchema.optional(),
});
export type ModelDetails = z.infer<typeof ModelDetailsSchema>;

export interface SiteRecordParts {
  /** What the collection stores: a valid ModelRecord, without the page-only parts. */
  entry: ModelRecord;
  details: ModelDetails;
}

/**
 * Splits a record for the site. The entry's version keeps only this file's entry of `files` and
 * no remote `images` (the record's own `images` are the downloaded ones); sibling versions keep
 * their id and dates, which is what the gallery's "newer version" badge needs. `sanitized`
 * remembers each description's sanitised HTML across the records of one run: the local files of
 * one model share its description.
 */
export function splitForSite(record: ModelRecord, sanitized: Map<string, string> = new Map()): SiteRecordParts {
  const details: ModelDetails = {};
  const entry: ModelRecord = { ...record };
  const safe = (html: string): string => {
    let out = sanitized.get(html);
    if (out === undefined) {
      out = sanitizeDescription(html);
      sanitized.set(html, out);
    }
    return out;
  };
  const modelDescription = record.model?.description;
  const versionDescription = record.version?.description;
  const description = modelDescription ?? versionDescription;
  if (description) {
    const html = safe(description);
    if (html) details.descriptionHtml = html;
  }
  if (modelDescription && versionDescription) {
    const notes = safe(versionDescription);
    if (notes) details.versionNotesHtml = notes;
  }
  if (record.version) {
    const { images: _remoteImages, description: _description, files, ...version } = record.version;
    void _remoteImages;
    void _description;
    const sha = record.hashes.SHA256?.toUpperCase();
    const mine = files?.find((file) => file.hashes?.SHA256?.toUpperCase() === sha) ?? files?.find((file) => file.primary);
    entry.version = { ...version, files: mine ? [mine] : [] };
  }
  if (record.model) {
    const { description: _description, modelVersions, ...model } = record.model;
    void _description;
    if (modelVersions) {
      details.modelVersions = modelVersions;
      entry.model = {
        ...model,
        modelVersions: modelVersions.map(({ id, createdAt, publishedAt }) => ({
          id,
          ...(createdAt ? { createdAt } : {}),
          ...(publishedAt ? { publishedAt } : {}),
        })),
      };
    } else {
      entry.model = model;
    }
  }
  if (record.images.some((image) => image.meta)) {
    details.imageMeta = record.images.map((image) => image.meta ?? null);
    entry.images = record.images.map(({ meta: _meta, ...image }) => image);
  }
  if (record.training) {
    details.training = record.training;
    delete entry.training;
  }
  return { entry, details };
}

/**
 * The record again, from an entry and its details (missing details leave those parts out), but
 * for the descriptions: the page takes those from the details as sanitised HTML.
 */
export function joinSiteRecord(entry: ModelRecord, details: ModelDetails | undefined): ModelRecord {
  if (!details) return entry;
  const record: ModelRecord = { ...entry };
  if (entry.model && details.modelVersions) record.model = { ...entry.model, modelVersions: details.modelVersions };
  const meta = details.imageMeta;
  if (meta) record.images = entry.images.map((image, index) => (meta[index] ? { ...image, meta: meta[index] } : image));
  if (details.training) record.training = details.training;
  return record;
}

export function siteDetailsFile(dir: string, id: string): string {
  // Ids are URL-safe slugs (records/id.ts); encoding keeps any other id a plain file name.
  return path.join(dir, `${encodeURIComponent(id)}.json`);
}

/** Writes each record's details file (unchanged files are not rewritten), each atomically. */
export async function writeDetailsFiles(dir: string, parts: readonly { id: string; details: ModelDetails }[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  // Each still temp → rename, the folder fsynced once at the end: an fsync per file was 5,000
  // of them in a first build, for files the next build makes again if they are lost.
  await withWriteBatch(() =>
    mapLimit(parts, 16, async ({ id, details }) => {
      // Made as each is written: the texts of 50,000 files at once were 120 MB.
      await writeFileAtomic(siteDetailsFile(dir, id), detailsText(details), { skipIfUnchanged: true });
    }),
  );
}

/** Compact: every model page reads and parses its file. */
function detailsText(details: ModelDetails): string {
  return `${JSON.stringify({ format: DETAILS_FORMAT, ...details })}\n`;
}

/** Removes the details files of every id but `keep`. */
export async function pruneSiteDetails(dir: string, keep: Iterable<string>): Promise<void> {
  const names = new Set<string>();
  for (const id of keep) names.add(path.basename(siteDetailsFile(dir, id)));
  const present = await readdir(dir).catch(() => [] as string[]);
  await mapLimit(
    present.filter((name) => name.endsWith('.json') && !names.has(name)),
    16,
    (name) => rm(path.join(dir, name), { force: true }),
  );
}

/** The details the loader wrote for `id`; undefined when there are none (or they are unreadable, or of another format). */
export function readSiteDetails(dir: string, id: string): ModelDetails | undefined {
  let text: string;
  try {
    text = readFileSync(siteDetailsFile(dir, id), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as { format?: unknown }).format !== DETAILS_FORMAT) return undefined;
  const { format: _format, ...details } = parsed as ModelDetails & { format: number };
  void _format;
  return details;
}
