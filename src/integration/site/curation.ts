/**
 * The curation file: what a user exported from the gallery ("Your data" → Export, written by
 * `exportText` in components/client/common.js) fed back into the build, so favourites, hidden
 * models, your tags, notes and preferred weights survive a rebuild and a new browser.
 *
 * The pages bake these values in; the browser's own store is applied on top of them field by
 * field (a favourite you remove in the browser stays removed there; "Reset to the file" on a
 * model page drops the browser's changes for that model).
 *
 * Limits and cleaning follow the browser's `cleanEntry`, so a value is the same whichever side
 * read it. Entries are keyed by page id (`<file name slug>-<SHA-256 prefix>`, records/id.ts); an
 * id the library no longer has (the file was renamed) is matched by its SHA-256 prefix when
 * exactly one model has it.
 */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import type { ModelRecord } from '../engine/records/schema.ts';

export const CURATION_FORMAT = 'civitscraper-personal';
const MAX_TAGS = 50;
const MAX_TAG_LENGTH = 64;
const MAX_NOTE_LENGTH = 20000;
const ID = /^[A-Za-z0-9._~%-]{1,200}$/;

const CurationEntrySchema = z.looseObject({
  /** The model's name when it was exported: for people reading the file, not used. */
  name: z.string().optional(),
  favourite: z.boolean().optional(),
  hidden: z.boolean().optional(),
  tags: z.array(z.string()).optional(),
  note: z.string().optional(),
  weight: z.number().min(-10).max(10).optional(),
});

export const CurationFileSchema = z.looseObject({
  format: z.literal(CURATION_FORMAT, { message: `must be "${CURATION_FORMAT}" (a file exported from the gallery's "Your data" panel)` }),
  version: z.literal(1).optional(),
  exported: z.string().optional(),
  models: z.record(z.string().regex(ID, 'is not a page id (letters, digits and . _ ~ % -)'), CurationEntrySchema),
});

/** One model's curated values, cleaned as the browser cleans them (only what is set). */
export interface CurationEntry {
  favourite?: true;
  hidden?: true;
  tags?: string[];
  note?: string;
  weight?: number;
}

export interface Curation {
  /** The file it was read from (absolute). */
  file: string;
  /** Page id → cleaned entry; entries left with nothing are not kept. */
  models: Map<string, CurationEntry>;
}

/** A curation file that cannot be used; the message names the file and the key. */
export class CurationError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.name = 'CurationError';
    this.file = file;
  }
}

export function cleanTags(value: readonly string[] | undefined): string[] {
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const raw of value ?? []) {
    if (tags.length >= MAX_TAGS) break;
    const tag = raw.replace(/\s+/g, ' ').trim().slice(0, MAX_TAG_LENGTH);
    const key = tag.toLowerCase();
    if (!tag || seen.has(key)) continue;
    seen.add(key);
    tags.push(tag);
  }
  return tags;
}

function cleanEntry(value: z.infer<typeof CurationEntrySchema>): CurationEntry | undefined {
  const entry: CurationEntry = {};
  if (value.favourite === true) entry.favourite = true;
  if (value.hidden === true) entry.hidden = true;
  const tags = cleanTags(value.tags);
  if (tags.length) entry.tags = tags;
  if (typeof value.note === 'string' && value.note.trim()) entry.note = value.note.slice(0, MAX_NOTE_LENGTH);
  if (typeof value.weight === 'number' && value.weight !== 1) entry.weight = Math.round(value.weight * 100) / 100;
  return Object.keys(entry).length ? entry : undefined;
}

/** Parses the text of a curation file; `configKey` names where the path came from in messages. */
export function parseCuration(text: string, file: string, configKey: string): Curation {
  const where = `the curation file ${file} (${configKey})`;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CurationError(file, `${where} is not valid JSON (${(error as Error).message}); export it again from the gallery ("Your data" → Export)`);
  }
  const parsed = CurationFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 5).map((issue) => `\`${issue.path.map(String).join('.') || '(top level)'}\`: ${issue.message}`);
    const more = parsed.error.issues.length > 5 ? `\n  … and ${parsed.error.issues.length - 5} more` : '';
    throw new CurationError(file, `${where} is not a gallery export:\n  ${lines.join('\n  ')}${more}\nFix the keys named above, or export the file again from the gallery ("Your data" → Export).`);
  }
  const models = new Map<string, CurationEntry>();
  for (const [id, value] of Object.entries(parsed.data.models)) {
    const entry = cleanEntry(value);
    if (entry) models.set(id, entry);
  }
  return { file, models };
}

const cache = new Map<string, { stamp: string; curation: Curation }>();

/**
 * Reads and checks the curation file (again only when it changed on disk). A missing or
 * unreadable file is an error too: a build that silently dropped your favourites would be worse.
 */
export function readCuration(file: string, configKey: string): Curation {
  const info = statSync(file, { throwIfNoEntry: false });
  if (!info) {
    throw new CurationError(file, `the curation file ${file} (${configKey}) does not exist; export it from the gallery ("Your data" → Export) and save it there, or remove ${configKey}`);
  }
  if (!info.isFile()) throw new CurationError(file, `the curation file ${file} (${configKey}) is not a file`);
  const stamp = `${info.size}:${info.mtimeMs}`;
  const known = cache.get(file);
  if (known?.stamp === stamp) return known.curation;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CurationError(file, `the curation file ${file} (${configKey}) cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const curation = parseCuration(text, file, configKey);
  cache.set(file, { stamp, curation });
  return curation;
}

/**
 * The curated values of each model of the library, by page id: exact ids first, then an id
 * whose model file was renamed, by the SHA-256 prefix at its end when only one model has it.
 */
export function curationFor(curation: Curation | undefined, records: readonly Pick<ModelRecord, 'id' | 'hashes'>[]): Map<string, CurationEntry> {
  const out = new Map<string, CurationEntry>();
  if (!curation || curation.models.size === 0) return out;
  const ids = new Set(records.map((record) => record.id));
  const byPrefix = new Map<string, string[]>();
  for (const record of records) {
    const prefix = record.hashes.SHA256?.slice(0, 10).toLowerCase();
    if (!prefix) continue;
    const list = byPrefix.get(prefix) ?? [];
    list.push(record.id);
    byPrefix.set(prefix, list);
  }
  const renamed: [string, CurationEntry][] = [];
  for (const [id, entry] of curation.models) {
    if (ids.has(id)) out.set(id, entry);
    else renamed.push([id, entry]);
  }
  for (const [id, entry] of renamed) {
    const prefix = /-([0-9a-f]{10})(?:-\d+)?$/.exec(id)?.[1];
    const candidates = prefix ? byPrefix.get(prefix) : undefined;
    const target = candidates?.length === 1 ? candidates[0] : undefined;
    if (target && !out.has(target)) out.set(target, entry);
  }
  return out;
}
