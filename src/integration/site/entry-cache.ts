/**
 * The entries of the last site run, reused for records made of the same things. Splitting a
 * record (details.ts) and reading its images' generation data (resources.ts) parse every stored
 * API body of the library, and the details files are compared byte for byte with what would be
 * written: on a warm build of 5,000 unchanged models that was seconds of parsing for nothing.
 *
 * A record's key is worked out without loading anything lazy (records/lazy.ts): the state store
 * keys every version, parent model and image-parameter body by its content, so a body's key
 * stands for the body; every other field is hashed as it is. `updates` is worked out over all
 * records of the same CivitAI model (stages/updates.ts), from updates.json and the clock, so the
 * key takes in the whole family, updates.json and the config's ignore list, and an entry whose
 * updates would change with time (an early access that ends) is only reused until then.
 *
 * The manifest (one file in the cache folder, written atomically after the entries file) holds
 * each entry's key and the stat of its details file as written. It is trusted only beside the
 * entries file it was written with (their stats match) and only for details files that are as it
 * says; a missing, damaged or foreign manifest rebuilds every entry.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Config } from '../engine/config/schema.ts';
import { isSet, lazyOf, type LazyValue } from '../engine/records/lazy.ts';
import type { ModelRecord } from '../engine/records/schema.ts';
import { factsOf, type BodyMeta } from '../engine/records/version-facts.ts';
import { modelFacts, versionFacts as updateFacts } from '../engine/updates/rules.ts';
import type { UpdateState } from '../engine/updates/schema.ts';
import { UPDATES_FILE_NAME } from '../engine/updates/state.ts';
import { writeFileAtomic } from '../engine/util/atomic-write.ts';
import { siteDetailsFile } from './details.ts';
import { ENTRIES_FORMAT, type SiteEntry } from './entries.ts';

/** Raise when an entry made from the same record would come out differently. */
const CACHE_FORMAT = 1;

const ManifestSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  /** The entries file this manifest was written with: [size, mtimeMs, ino]. */
  entriesStat: z.tuple([z.number(), z.number(), z.number()]),
  /** Id → [key, details file size, its mtimeMs, reusable until (epoch ms) or null]. */
  entries: z.record(z.string(), z.tuple([z.string(), z.number(), z.number(), z.number().nullable()])),
});
type ManifestEntries = z.infer<typeof ManifestSchema>['entries'];

export function entryManifestFile(cacheDir: string): string {
  return path.join(path.resolve(cacheDir), 'site-entry-keys.json');
}

/** What a reused entry keeps of the last run: the gallery's half of the record, its refs, and until when it holds. */
export type CachedParts = Pick<SiteEntry, 'data' | 'refs'> & { until: number | null; details: [number, number] };

export interface PreviousEntries {
  /** The last run's parts for `id` when they were made from `key` and its details file is as written. */
  reuse(id: string, key: string, now: number): CachedParts | undefined;
  /** Everything the last run wrote (missing.ts carries the missing ones on). */
  all: SiteEntry[];
}

/**
 * The last run's entries and what they were made from. `entries` is the entries file as read
 * (undefined: none or unreadable), `entriesStat` its stat when read.
 */
export async function previousEntries(cacheDir: string, detailsDir: string, entries: SiteEntry[] | undefined, entriesStat: readonly number[] | undefined): Promise<PreviousEntries> {
  const all = entries ?? [];
  const none: PreviousEntries = { reuse: () => undefined, all };
  if (!entries || !entriesStat) return none;
  let manifest: ManifestEntries;
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(await readFile(entryManifestFile(cacheDir), 'utf8')));
    // Another entries file than the one it was written with (a crash between the two writes,
    // a copy from elsewhere): nothing in it is known to match.
    if (!parsed.success || parsed.data.entriesStat.some((value, index) => value !== entriesStat[index])) return none;
    manifest = parsed.data.entries;
  } catch {
    return none;
  }
  const byId = new Map<string, SiteEntry>();
  for (const entry of entries) if (!entry.missing) byId.set(entry.id, entry);
  return {
    all,
    reuse(id, key, now) {
      const known = Object.hasOwn(manifest, id) ? manifest[id] : undefined;
      const entry = byId.get(id);
      if (!known || !entry || known[0] !== key || (known[3] !== null && now >= known[3])) return undefined;
      // The details file as written: one removed or edited in the cache folder is written again.
      const details = statSync(siteDetailsFile(detailsDir, id), { throwIfNoEntry: false });
      if (!details || details.size !== known[1] || details.mtimeMs !== known[2]) return undefined;
      return { data: entry.data, ...(entry.refs ? { refs: entry.refs } : {}), until: known[3], details: [known[1], known[2]] };
    },
  };
}

/** What this run's entries were made from, by id; `until`: reusable until then (epoch ms). */
export interface EntryStamp {
  key: string;
  until: number | null;
  /** Its details file's [size, mtimeMs] when known (a reused entry's, unchanged). */
  details?: [number, number];
}

/** The manifest for the entries file just written (and stat'ed), with each details file's stat. */
export async function writeEntryManifest(cacheDir: string, detailsDir: string, entriesStat: readonly number[], stamps: ReadonlyMap<string, EntryStamp>): Promise<void> {
  // No prototype: an id is only ever a key of its own.
  const entries = Object.create(null) as ManifestEntries;
  for (const [id, { key, until, details: known }] of stamps) {
    const details = known ? { size: known[0], mtimeMs: known[1] } : statSync(siteDetailsFile(detailsDir, id), { throwIfNoEntry: false });
    if (details) entries[id] = [key, details.size, details.mtimeMs, until];
  }
  const text = `${JSON.stringify({ format: CACHE_FORMAT, entriesStat: [...entriesStat], entries })}\n`;
  // A manifest that cannot be written only costs the parsing next time.
  await writeFileAtomic(entryManifestFile(cacheDir), text, { skipIfUnchanged: true }).catch(() => undefined);
}

/** The stat that ties a manifest to an entries file. */
export function entriesFileStat(file: string): [number, number, number] | undefined {
  const info = statSync(file, { throwIfNoEntry: false });
  return info ? [info.size, info.mtimeMs, info.ino] : undefined;
}

/**
 * Everything outside the records that goes into every entry: this code (the package version,
 * and the modules that split a record and work out its updates, by stat: an edit in a checkout
 * rebuilds them), the entries' format, updates.json and the ignored versions of the config.
 */
export function entrySalt(config: Config): string {
  const hash = createHash('sha256').update(`${CACHE_FORMAT}\0${ENTRIES_FORMAT}\0${JSON.stringify(config.updates.ignore)}\0`);
  hash.update(entryCodeStamp());
  try {
    hash.update(readFileSync(path.join(path.resolve(config.scanner.cache_dir), UPDATES_FILE_NAME)));
  } catch {
    hash.update('no updates.json');
  }
  return hash.digest('base64url');
}

let code: string | undefined;
/** The package version and the stat of the modules an entry is made with (see entrySalt). */
export function entryCodeStamp(): string {
  if (code !== undefined) return code;
  let here: string;
  try {
    here = fileURLToPath(import.meta.url);
  } catch {
    // Not loaded from a file (a bundler's virtual module): only the format constants count.
    code = 'not a file';
    return code;
  }
  const ext = path.extname(here);
  const dir = path.dirname(here);
  const modules = ['entry-cache', 'sync', 'details', 'sanitize', 'resources', '../engine/records/schema', '../engine/updates/rules', '../engine/updates/stage', '../engine/updates/variant', '../engine/updates/schema', '../engine/stages/updates'];
  const parts: string[] = [];
  try {
    parts.push((JSON.parse(readFileSync(path.resolve(dir, '../../../package.json'), 'utf8')) as { version?: string }).version ?? '');
  } catch {
    parts.push('no package.json');
  }
  for (const name of modules) {
    const info = statSync(path.resolve(dir, `${name}${ext}`), { throwIfNoEntry: false });
    parts.push(info ? `${info.size}:${info.mtimeMs}` : '-');
  }
  code = parts.join('\0');
  return code;
}

/**
 * The key of each record's entry: its own fields (lazy bodies by their content key), those of
 * the other records of its CivitAI model (they go into its `updates`), and `salt`.
 */
export function entryKeys(records: readonly ModelRecord[], salt: string): Map<string, string> {
  const own = new Map<ModelRecord, string>();
  for (const record of records) own.set(record, materialHash(record));
  const familyOf = familiesOf(records);
  const keys = new Map<string, string>();
  for (const record of records) {
    const hash = createHash('sha256').update(salt).update(own.get(record) as string);
    // In the order of the run: the updates rules break ties by it.
    for (const member of familyOf(record)) if (member !== record) hash.update(`\0${member.id}:${own.get(member) as string}`);
    keys.set(record.id, hash.digest('base64url'));
  }
  return keys;
}

/**
 * The CivitAI model whose records share `updates` (stages/updates.ts groups identified records
 * with a version by this id); any record with a model id is grouped, which only widens a key.
 */
function familyOf(record: ModelRecord): number | undefined {
  if (!isSet(record, 'version')) return undefined;
  return factsOf(record)?.modelId;
}

/** A body's key as the state store makes it (sidecar-stamps.ts storeBody): the hash of its JSON. */
const contentKey = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('base64url');

/** The key of a version or model body: the store's, unparsed; else made the store's way. */
function bodyKey(holder: object, name: string): string | null {
  const lazy = lazyOf(holder, name);
  if (lazy) return (lazy.meta as BodyMeta).key;
  const value = (holder as Record<string, unknown>)[name];
  return value === undefined ? null : contentKey(value);
}

/**
 * The key of the images' generation parameters, one body for all of a record's images as the
 * store keeps them: the store's key while every image still picks from it, else made the store's
 * way (null: no image has any).
 */
function imageMetaKey(images: readonly object[]): string | null {
  let metas: LazyValue<unknown> | undefined;
  const shared =
    images.length > 0 &&
    images.every((image, index) => {
      const from = lazyOf(image, 'meta')?.meta as { metas?: LazyValue<unknown>; index?: number } | undefined;
      if (!from?.metas || from.index !== index || (metas !== undefined && from.metas !== metas)) return false;
      metas = from.metas;
      return true;
    });
  const key = shared ? (metas?.meta as BodyMeta | undefined)?.key : undefined;
  if (typeof key === 'string') return key;
  const values = images.map((image) => (image as { meta?: unknown }).meta ?? null);
  return values.some((meta) => meta !== null) ? contentKey(values) : null;
}

/**
 * A hash of the record's fields in which each stored body stands as its content key: the same
 * whether the body is still unparsed (a warm run) or was just fetched (the run before).
 */
function materialHash(record: ModelRecord): string {
  const fields: unknown[] = [];
  for (const name of Object.keys(record)) {
    if (name === 'updates') {
      // A plain value is part of the record; one still to be worked out comes from the family.
      const descriptor = Object.getOwnPropertyDescriptor(record, name);
      if (descriptor && 'value' in descriptor) fields.push(name, descriptor.value ?? null);
      continue;
    }
    if (name === 'version' || name === 'model') {
      fields.push(name, bodyKey(record, name));
      continue;
    }
    if (name === 'images') {
      const images = record.images.map((image) => {
        const parts: unknown[] = [];
        for (const field of Object.keys(image)) if (field !== 'meta') parts.push(field, (image as Record<string, unknown>)[field] ?? null);
        return parts;
      });
      fields.push(name, images, imageMetaKey(record.images));
      continue;
    }
    fields.push(name, (record as Record<string, unknown>)[name] ?? null);
  }
  return contentKey(fields);
}

/**
 * When the record's `updates` may change by the clock alone: the first end of an early access
 * after `now` among the versions its family's updates are judged from (null: never). Read after
 * the entry was made, when these bodies are parsed anyway.
 */
export function updatesUntil(family: readonly ModelRecord[], state: UpdateState | undefined, now: number): number | null {
  let until: number | null = null;
  const consider = (endsAt: string | undefined) => {
    const at = Date.parse(endsAt ?? '');
    if (!Number.isNaN(at) && at > now && (until === null || at < until)) until = at;
  };
  for (const record of family) {
    if (record.version) consider(updateFacts(record.version).earlyAccessEndsAt);
    if (record.model) for (const facts of modelFacts(record.model)) consider(facts.earlyAccessEndsAt);
    const modelId = familyOf(record);
    const snapshot = modelId === undefined ? undefined : state?.models[String(modelId)];
    for (const facts of snapshot?.versions ?? []) consider(facts.earlyAccessEndsAt);
  }
  return until;
}

/** Records by family (familyOf), for updatesUntil. */
export function familiesOf(records: readonly ModelRecord[]): (record: ModelRecord) => readonly ModelRecord[] {
  // Records without a family share the `undefined` group, which is never looked up.
  const families = Map.groupBy(records, familyOf);
  return (record) => {
    const modelId = familyOf(record);
    return modelId === undefined ? [record] : (families.get(modelId) ?? [record]);
  };
}
