/**
 * What we know about our own metadata sidecars, so a rerun over an unchanged library does not
 * read and validate 50,000 JSON files: when we write (or read and validate) a sidecar, we keep
 * its section (`civitscraper`, as validated) and the top-level A1111 values beside the model
 * file's identity and the sidecar's own stat (size, mtime, ctime, inode). A later run that finds
 * the model file with the same identity and the sidecar with the same stat takes the section
 * from here: one `stat` of the sidecar instead of stat + read + JSON.parse + zod.
 *
 * The section's API bodies (`version`, `model`: most of its bytes) are kept apart, once each by
 * content (50 versions of one model share one model body), and `lookup` hands them out unparsed
 * (records/lazy.ts): a file that needs no work never has them parsed. A body no stamp refers to
 * any more is dropped ORPHAN_GRACE_MS later, so records handed out earlier can still load theirs
 * (after the run closed the store, through a connection of their own).
 *
 * An edit by hand changes the sidecar's mtime and ctime (even an editor that restores the mtime
 * changes the ctime), so it is read again. On file systems with whole-second timestamps a stamp
 * taken within RACY_WINDOW_MS of the sidecar's mtime is not trusted (a second write in the same
 * tick would look unchanged).
 */
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { defineLazy, LazyValue, lazyOf } from '../records/lazy.ts';
import type { Hashes } from '../records/schema.ts';
import type { TrainingSummary } from '../records/training.ts';
import { versionFacts, type BodyMeta, type VersionFacts } from '../records/version-facts.ts';
import type { Model, ModelVersion } from '../civitai/schemas.ts';
import { intern } from '../scan/discover.ts';
import { a1111Facts, asStoredImages, type A1111Facts } from '../sidecars/metadata.ts';
import type { StoreContext } from './store.ts';
import { RACY_WINDOW_MS, type FileIdentity } from './ledger.ts';

/** The sidecar's stat as recorded. */
export interface SidecarStat {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface SidecarStamp {
  /** The model file the sidecar describes, as it was then. */
  model: FileIdentity;
  sidecar: SidecarStat;
  /**
   * The `civitscraper` section as validated (paths relative to the sidecar's folder), except its
   * images: from `lookup`, as stored data has them (`path` and `still` absolute). From `lookup`,
   * without `version` and `model`: they are in `bodies`.
   */
  section: Record<string, unknown>;
  /**
   * To `remember`: top-level values of the A1111 keys (only those present). Kept as `a1111`
   * (what the repair check needs of them), not themselves: descriptions made up most of a
   * stamp's bytes, and of its cost to read.
   */
  top?: Record<string, unknown>;
  /** From `lookup`: what the repair check needs of the A1111 keys. */
  a1111?: A1111Facts;
  /** The model file's training summary (`null`: its header has none); absent when not read yet. */
  training?: TrainingSummary | null;
  /** What a record needs of the version, known without parsing it. */
  facts?: VersionFacts;
  /** Epoch ms when the stamp was taken. */
  at: number;
  /**
   * From `lookup`: the section's `version` and `model`, unparsed (records/lazy.ts). Handed over
   * as they are, so the stored data built from the stamp is their first home: a lazy property
   * defined on an object costs more than the parse-free lookup itself.
   */
  bodies?: StampBodies;
}

export interface StampBodies {
  version?: LazyValue<unknown, BodyMeta>;
  model?: LazyValue<unknown, BodyMeta>;
}

export interface StampLookupOptions {
  /**
   * Where a body comes from when the store does not have it any more (another run dropped it,
   * or the disk failed under the store): the sidecar itself.
   */
  fallback?: (field: BodyField) => unknown;
}

/** `imageMeta`: the generation parameters of the section's images, in their order (null: none). */
export type BodyField = 'version' | 'model' | 'imageMeta';

/** StampLookupOptions.fallback for any sidecar: one function for a run, not one per file. */
export type BodyFallback = (sidecarPath: string, field: BodyField) => unknown;

/** What loading a body needs: the shared loader reads it from here (no closure per body). */
interface LoadMeta extends BodyMeta {
  field: BodyField;
  sidecarPath: string;
  fallback: BodyFallback | undefined;
}

export interface SidecarStamps {
  /** The stamp of `sidecarPath` if the model file and the sidecar are exactly as recorded. */
  lookup(sidecarPath: string, model: FileIdentity, sidecar: SidecarStat, options?: StampLookupOptions): SidecarStamp | undefined;
  /**
   * `lookup` of many sidecars at once (a run's): the stamps that still hold, by sidecar path.
   * `fallback(path, field)`: StampLookupOptions.fallback of the sidecar at `path`.
   */
  lookupMany<E extends StampWanted>(
    wanted: readonly E[],
    fallback: BodyFallback,
    /**
     * Filled with the paths of stamps that were not asked for, when the whole table was read
     * (a sidecar moved or deleted since: its stamp can never hold again).
     */
    unasked?: string[],
    /**
     * Given each stamp as it is found, instead of the map (then empty): what the caller keeps
     * of a stamp is made from it at once, and the rest of it is garbage while still young
     * (all of a library's stamps in a map lived long enough to be collected as old objects).
     */
    each?: (entry: E, stamp: SidecarStamp) => void,
  ): Map<string, SidecarStamp>;
  /** A section from `lookup` is stored without loading its bodies. */
  remember(sidecarPath: string, stamp: Omit<SidecarStamp, 'at'>): void;
  /** Adds the training summary to a stamp taken before the header was read. */
  setTraining(sidecarPath: string, training: TrainingSummary | null): void;
  forget(sidecarPath: string): void;
  /**
   * After stamps changed in this run: marks the bodies no stamp refers to and drops those marked
   * more than ORPHAN_GRACE_MS ago. Returns how many went.
   */
  collect(): number;
  count(): number;
}

/** A sidecar lookupMany is asked about: its path, and the model file and sidecar as they are now. */
export interface StampWanted {
  path: string;
  model: FileIdentity;
  sidecar: SidecarStat;
}

/** From this many sidecars on, lookupMany reads the whole table once. */
const SCAN_FROM = 512;
/** Rows per page of that pass. */
const SCAN_PAGE = 1024;

/** How long a body no stamp refers to is kept for records handed out before. */
export const ORPHAN_GRACE_MS = 24 * 60 * 60 * 1000;

/** A connection opened to load a body after the run closed its store is closed after this long unused. */
const LATE_READER_IDLE_MS = 2000;

export function sameSidecarStat(a: SidecarStat, b: SidecarStat): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

interface StampRow {
  body?: unknown;
  version_key?: unknown;
  model_key?: unknown;
  stamped_at?: unknown;
}

/** The key, in a stamp's JSON, of its images' generation parameters in stamp_bodies. */
const IMAGE_META_KEY = 'imageMeta';

interface ImageMetaMeta {
  /** The model's image parameters, in image order. */
  metas: LazyValue<unknown, BodyMeta>;
  index: number;
}

/** One image's parameters out of its model's list. */
const pickMeta = ({ metas, index }: ImageMetaMeta): unknown => {
  const list = metas.get();
  const meta = Array.isArray(list) ? list[index] : undefined;
  return meta === null ? undefined : meta;
};

const COLUMNS = ['rowid', 'path', 'model', 'sidecar', 'body', 'version_key', 'model_key', 'stamped_at'] as const;
const toArray = (row: Record<string, unknown>) => COLUMNS.map((column) => row[column]);

/**
 * The repair check's A1111 facts, one frozen object per distinct value: a library has a handful
 * (which keys we wrote, whether one is empty), and 50,000 copies of them lived all run.
 */
const factsByKey = new Map<string, A1111Facts>();
/** The value the last stamp had: most stamps of a run have the one before's (no key text made). */
let lastFacts: A1111Facts | undefined;
function sharedFacts(facts: A1111Facts): A1111Facts {
  if (!Array.isArray(facts.ours)) return facts;
  if (lastFacts && sameFacts(lastFacts, facts)) return lastFacts;
  const key = `${facts.emptyAtTop ? 1 : 0}${facts.ours.join('\n')}`;
  let shared = factsByKey.get(key);
  if (!shared) {
    shared = Object.freeze({ ours: Object.freeze(facts.ours.map(intern)) as string[], emptyAtTop: facts.emptyAtTop === true });
    factsByKey.set(key, shared);
  }
  lastFacts = shared;
  return shared;
}

function sameFacts(shared: A1111Facts, facts: A1111Facts): boolean {
  if (shared.emptyAtTop !== (facts.emptyAtTop === true) || shared.ours.length !== facts.ours.length) return false;
  for (let index = 0; index < facts.ours.length; index += 1) if (shared.ours[index] !== facts.ours[index]) return false;
  return true;
}

/** A model file's identity as one text (numbers in JavaScript's exact round-trip form). */
const identityKey = (file: FileIdentity) => `${file.dev}:${file.ino}:${file.size}:${file.mtimeMs}`;
/** A sidecar's stat as one text: any change in it (an edit, a copy, a touch) is a mismatch. */
const statKey = (stat: SidecarStat) => `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}`;

export function createSidecarStamps({ db, file, now, guard }: StoreContext): SidecarStamps {
  // The model file's identity and the sidecar's stat are compared by SQLite: only a stamp that
  // still holds comes back (and is parsed).
  const select = db.prepare('SELECT body, version_key, model_key, stamped_at FROM sidecar_stamps WHERE path = ? AND model = ? AND sidecar = ?');
  // A whole library's rows, a page at a time in rowid order: `all()` per page costs less than an
  // iterator step per row, and a page at a time keeps only one page of row texts alive.
  const selectPage = db.prepare(
    'SELECT rowid, path, model, sidecar, body, version_key, model_key, stamped_at FROM sidecar_stamps WHERE rowid > ? ORDER BY rowid LIMIT ?',
  );
  // Rows as arrays: an array a row costs less than an object with eight named properties
  // (Node ≥ 22.16; objects otherwise).
  const rowsAsArrays = typeof (selectPage as { setReturnArrays?: unknown }).setReturnArrays === 'function';
  if (rowsAsArrays) (selectPage as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
  const upsert = db.prepare(
    'INSERT INTO sidecar_stamps (path, model, sidecar, body, version_key, model_key, stamped_at) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT (path) DO UPDATE SET model = excluded.model, sidecar = excluded.sidecar, body = excluded.body, ' +
      'version_key = excluded.version_key, model_key = excluded.model_key, stamped_at = excluded.stamped_at',
  );
  const updateTraining = db.prepare("UPDATE sidecar_stamps SET body = json_set(body, '$.training', json(?)) WHERE path = ?");
  const remove = db.prepare('DELETE FROM sidecar_stamps WHERE path = ?');
  const countAll = db.prepare('SELECT COUNT(*) AS n FROM sidecar_stamps');
  const selectBody = db.prepare('SELECT body FROM stamp_bodies WHERE key = ?');
  const insertBody = db.prepare(
    'INSERT INTO stamp_bodies (key, body) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET orphaned_at = NULL WHERE orphaned_at IS NOT NULL',
  );
  const keepBody = db.prepare('UPDATE stamp_bodies SET orphaned_at = NULL WHERE key = ? AND orphaned_at IS NOT NULL');
  const markOrphans = db.prepare(
    'UPDATE stamp_bodies SET orphaned_at = ? WHERE orphaned_at IS NULL ' +
      'AND key NOT IN (SELECT version_key FROM sidecar_stamps WHERE version_key IS NOT NULL) ' +
      'AND key NOT IN (SELECT model_key FROM sidecar_stamps WHERE model_key IS NOT NULL) ' +
      `AND key NOT IN (SELECT json_extract(body, '$.${IMAGE_META_KEY}') FROM sidecar_stamps WHERE json_extract(body, '$.${IMAGE_META_KEY}') IS NOT NULL)`,
  );
  const dropOrphans = db.prepare('DELETE FROM stamp_bodies WHERE orphaned_at IS NOT NULL AND orphaned_at < ?');
  /** Stamps were replaced or removed in this run: `collect` has something to look at. */
  let changed = false;

  const bodyText = (key: string): string | undefined => {
    if (db.isOpen) {
      return guard('sidecar stamp read', undefined, () => {
        const row = selectBody.get(key) as { body?: unknown } | undefined;
        return typeof row?.body === 'string' ? row.body : undefined;
      });
    }
    return file === undefined ? undefined : readLate(file, key);
  };
  // One parse per parent model per run, shared by its versions (as the records were before).
  const models = new Map<string, LazyValue<unknown, BodyMeta>>();
  const load = ({ key, field, sidecarPath, fallback }: LoadMeta): unknown => {
    const text = bodyText(key);
    if (text !== undefined) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        // A damaged row: the sidecar has the same body.
      }
    }
    const value = fallback?.(sidecarPath, field);
    if (value === undefined) {
      throw new Error(`the stored ${field} of ${sidecarPath} is not in the state store any more and the sidecar no longer has it; run the scan again`);
    }
    return value;
  };
  const bodyValue = (key: string, field: BodyField, sidecarPath: string, fallback: BodyFallback | undefined): LazyValue<unknown, BodyMeta> => {
    if (field === 'version') return new LazyValue<unknown, LoadMeta>(load, { key, field, sidecarPath, fallback });
    // Shared, fallback included: a body of the same key is the same in every sidecar holding it.
    let shared = models.get(key);
    if (!shared) models.set(key, (shared = new LazyValue<unknown, LoadMeta>(load, { key, field, sidecarPath, fallback })));
    return shared;
  };

  /**
   * Bodies stored since the last `collect`, by object: the versions of one parent model share
   * its body (stages/enrich.ts), serialized, hashed and inserted once. Forgotten at `collect`,
   * so a rolled-back transaction cannot leave a key here whose row is not in the store.
   */
  let storedObjects = new WeakMap<object, string>();
  /** The key of a body in the store, storing it if needed; null when the section has none. */
  const storeBody = (section: Record<string, unknown>, field: BodyField): string | null => {
    const lazy = lazyOf(section, field);
    if (lazy) {
      const { key } = lazy.meta as BodyMeta;
      keepBody.run(key);
      return key;
    }
    const value = section[field];
    if (value === undefined) return null;
    const shared = value !== null && typeof value === 'object' ? value : undefined;
    const known = shared && storedObjects.get(shared);
    if (known) return known;
    const text = JSON.stringify(value);
    const key = createHash('sha256').update(text).digest('base64url');
    insertBody.run(key, text);
    if (shared) storedObjects.set(shared, key);
    return key;
  };

  /**
   * The section's images without their generation parameters, and the key of those in the
   * store (null when no image has any). Parameters still unparsed (from `lookup`) keep their key.
   */
  const storeImageMeta = (images: unknown): { images: unknown; key: string | null } => {
    if (!Array.isArray(images) || images.length === 0) return { images, key: null };
    const lazies = images.map((image) => (image && typeof image === 'object' ? lazyOf(image as object, 'meta') : undefined));
    const first = lazies[0]?.meta as ImageMetaMeta | undefined;
    let key: string | null = null;
    if (first && lazies.every((lazy, index) => lazy && (lazy.meta as ImageMetaMeta).metas === first.metas && (lazy.meta as ImageMetaMeta).index === index)) {
      key = (first.metas.meta as BodyMeta).key;
      keepBody.run(key);
    } else {
      const metas = images.map((image) => ((image as { meta?: unknown } | null)?.meta ?? null));
      if (metas.some((meta) => meta !== null)) {
        const text = JSON.stringify(metas);
        key = createHash('sha256').update(text).digest('base64url');
        insertBody.run(key, text);
      }
    }
    if (key === null) return { images, key };
    const stripped = images.map((image) => {
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(image as object)) if (name !== 'meta') out[name] = (image as Record<string, unknown>)[name];
      return out;
    });
    return { images: stripped, key };
  };

  /** A row whose identity and stat matched, as a stamp with its bodies unparsed; undefined when it cannot be used. */
  const fromRow = (row: StampRow, sidecarPath: string, model: FileIdentity, sidecar: SidecarStat, fallback: BodyFallback | undefined) => {
    if (typeof row.body !== 'string' || typeof row.stamped_at !== 'number') return undefined;
    // Whole-second timestamps: a write in the same tick as the stamp would not show.
    const coarse = sidecar.mtimeMs % 1000 === 0;
    if (coarse && row.stamped_at - sidecar.mtimeMs < RACY_WINDOW_MS) return undefined;
    let stamp: SidecarStamp;
    try {
      stamp = JSON.parse(row.body) as SidecarStamp;
    } catch {
      return undefined;
    }
    if (!stamp || typeof stamp !== 'object' || !stamp.section || typeof stamp.section !== 'object') return undefined;
    stamp.model = model;
    stamp.sidecar = sidecar;
    stamp.at = row.stamped_at;
    // The same few key names and values in every stamp: one string each, not one per stamp.
    if (stamp.a1111) stamp.a1111 = sharedFacts(stamp.a1111);
    if (typeof stamp.section.source === 'string') stamp.section.source = intern(stamp.section.source);
    const parent = typeof row.model_key === 'string' ? bodyValue(row.model_key, 'model', sidecarPath, fallback) : null;
    const bodies: StampBodies = {};
    if (parent) bodies.model = parent;
    if (typeof row.version_key === 'string') {
      // The facts hold with this parent model (records/version-facts.ts factsOf). One meta of
      // one shape for every version: built whole, not added to.
      const meta: LoadMeta = { key: row.version_key, field: 'version', sidecarPath, fallback, facts: stamp.facts, model: stamp.facts ? parent : undefined };
      bodies.version = new LazyValue<unknown, LoadMeta>(load, meta);
    }
    stamp.bodies = bodies;
    const metaKey = (stamp as unknown as Record<string, unknown>)[IMAGE_META_KEY];
    delete (stamp as unknown as Record<string, unknown>)[IMAGE_META_KEY];
    const images = stamp.section.images;
    if (typeof metaKey === 'string' && Array.isArray(images)) {
      // Each image's parameters load with the first one read (one parse for the model's images).
      const metas = bodyValue(metaKey, 'imageMeta', sidecarPath, fallback);
      for (const [index, image] of images.entries()) {
        if (image && typeof image === 'object') defineLazy(image as object, 'meta', new LazyValue<unknown, ImageMetaMeta>(pickMeta, { metas, index }));
      }
    }
    return stamp;
  };

  return {
    lookup(sidecarPath, model, sidecar, options = {}) {
      return guard('sidecar stamp read', undefined, () => {
        const row = select.get(sidecarPath, identityKey(model), statKey(sidecar)) as StampRow | undefined;
        const { fallback } = options;
        return row ? fromRow(row, sidecarPath, model, sidecar, fallback ? (_path, field) => fallback(field) : undefined) : undefined;
      });
    },
    lookupMany(wanted, fallback, unasked, each) {
      const found = new Map<string, SidecarStamp>();
      // The caller's own failure is not the store's: it is thrown as it is once the read stops,
      // not taken by the guard for a store that cannot be read.
      let failed: { error: unknown } | undefined;
      const take = each
        ? (entry: (typeof wanted)[number], stamp: SidecarStamp) => {
            try {
              each(entry, stamp);
            } catch (error) {
              failed = { error };
            }
          }
        : (entry: StampWanted, stamp: SidecarStamp) => void found.set(entry.path, stamp);
      const result = guard('sidecar stamp read', found, () => {
        // Most of a library: one pass over the table beats a search per file (half the cost a
        // row); a few files: a search each.
        const scan = wanted.length >= SCAN_FROM && wanted.length * 2 >= Number((countAll.get() as { n: number }).n);
        if (!scan) {
          for (const entry of wanted) {
            const row = select.get(entry.path, identityKey(entry.model), statKey(entry.sidecar)) as StampRow | undefined;
            const stamp = row ? fromRow(row, entry.path, entry.model, entry.sidecar, fallback) : undefined;
            if (stamp) take(entry, stamp);
            if (failed) return found;
          }
          return found;
        }
        const byPath = new Map(wanted.map((entry) => [entry.path, entry]));
        for (let after = -Infinity; ; ) {
          const page = selectPage.all(after, SCAN_PAGE) as unknown[];
          for (const raw of page) {
            const row = rowsAsArrays ? (raw as unknown[]) : toArray(raw as Record<string, unknown>);
            const entry = byPath.get(row[1] as string);
            if (!entry) {
              unasked?.push(row[1] as string);
              continue;
            }
            if (row[2] !== identityKey(entry.model) || row[3] !== statKey(entry.sidecar)) continue;
            const stamp = fromRow({ body: row[4], version_key: row[5], model_key: row[6], stamped_at: row[7] }, entry.path, entry.model, entry.sidecar, fallback);
            if (stamp) take(entry, stamp);
            if (failed) return found;
          }
          if (page.length < SCAN_PAGE) return found;
          const last = page[page.length - 1] as unknown[] | Record<string, unknown>;
          after = Number(Array.isArray(last) ? last[0] : last.rowid);
        }
      });
      if (failed) throw failed.error;
      return result;
    },
    remember(sidecarPath, stamp) {
      guard('sidecar stamp write', undefined, () => {
        const at = now();
        // The bodies are stored apart; our A1111 values only as the facts the repair check needs
        // (the writer reads the sidecar itself before it merges into it).
        const section: Record<string, unknown> = {};
        for (const key of Object.keys(stamp.section)) if (key !== 'version' && key !== 'model' && key !== 'a1111') section[key] = stamp.section[key];
        const a1111 = stamp.a1111 ?? a1111Facts(stamp.section, stamp.top ?? {});
        const versionKey = storeBody(stamp.section, 'version');
        const modelKey = storeBody(stamp.section, 'model');
        const facts = factsFor(stamp);
        // Generation parameters were most of a stamp with previews (up to a few KB an image),
        // read on every run: they are a body of their own, parsed when somebody reads them.
        // Kept as stored data has them (absolute paths): a rerun uses them as they are.
        if (Array.isArray(section.images) && section.images.length > 0) section.images = asStoredImages(section.images, dirname(sidecarPath));
        const { images, key: imageMetaKey } = storeImageMeta(section.images);
        if (imageMetaKey !== null) section.images = images;
        const body = {
          section,
          ...(imageMetaKey !== null ? { [IMAGE_META_KEY]: imageMetaKey } : {}),
          a1111,
          ...(stamp.training !== undefined ? { training: stamp.training } : {}),
          ...(facts ? { facts } : {}),
        };
        upsert.run(sidecarPath, identityKey(stamp.model), statKey(stamp.sidecar), JSON.stringify(body), versionKey, modelKey, at);
        changed = true;
      });
    },
    setTraining(sidecarPath, training) {
      guard('sidecar stamp write', undefined, () => {
        updateTraining.run(JSON.stringify(training), sidecarPath);
      });
    },
    forget(sidecarPath) {
      guard('sidecar stamp write', undefined, () => {
        if (Number(remove.run(sidecarPath).changes) > 0) changed = true;
      });
    },
    collect() {
      storedObjects = new WeakMap();
      if (!changed) return 0;
      return guard('sidecar stamp write', 0, () => {
        const at = now();
        markOrphans.run(at);
        const dropped = Number(dropOrphans.run(at - ORPHAN_GRACE_MS).changes);
        changed = false;
        return dropped;
      });
    },
    count() {
      return guard('sidecar stamp read', 0, () => Number((countAll.get() as { n: number }).n));
    },
  };
}

/**
 * The facts to keep with a stamp: the ones its lazy version brought while its parent model is
 * the one they were taken with, else taken from the version (parsing it if lazy).
 */
function factsFor(stamp: Omit<SidecarStamp, 'at'>): VersionFacts | undefined {
  const { section } = stamp;
  if (stamp.facts) return stamp.facts;
  const meta = lazyOf(section, 'version')?.meta as BodyMeta | undefined;
  if (meta?.facts && meta.model !== undefined) {
    const model = lazyOf(section, 'model');
    if (model ? model === meta.model : meta.model === null && section.model === undefined) return meta.facts;
  }
  const version = section.version as ModelVersion | undefined;
  if (!version || typeof version !== 'object') return undefined;
  return versionFacts(version, section.model as Model | undefined, (section.hashes ?? {}) as Hashes);
}

interface LateReader {
  db: DatabaseSync;
  select: StatementSync;
  usedAt: number;
  timer?: NodeJS.Timeout;
}

const lateReaders = new Map<string, LateReader>();

/**
 * A body asked for after its run closed the store (a record's version read by the site after
 * the scan): read through a read-only connection of its own, closed again once unused.
 */
function readLate(file: string, key: string): string | undefined {
  let reader = lateReaders.get(file);
  try {
    if (!reader) {
      const sqlite = process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite');
      const late = new sqlite.DatabaseSync(file, { readOnly: true, timeout: 5000 });
      reader = { db: late, select: late.prepare('SELECT body FROM stamp_bodies WHERE key = ?'), usedAt: 0 };
      lateReaders.set(file, reader);
    }
    reader.usedAt = performance.now();
    if (!reader.timer) armIdleClose(file, reader);
    const row = reader.select.get(key) as { body?: unknown } | undefined;
    return typeof row?.body === 'string' ? row.body : undefined;
  } catch {
    if (reader) closeLate(file, reader);
    return undefined;
  }
}

function armIdleClose(file: string, reader: LateReader): void {
  reader.timer = setTimeout(() => {
    reader.timer = undefined;
    if (performance.now() - reader.usedAt >= LATE_READER_IDLE_MS) closeLate(file, reader);
    else armIdleClose(file, reader);
  }, LATE_READER_IDLE_MS);
  reader.timer.unref();
}

function closeLate(file: string, reader: LateReader): void {
  if (reader.timer) clearTimeout(reader.timer);
  if (lateReaders.get(file) === reader) lateReaders.delete(file);
  try {
    if (reader.db.isOpen) reader.db.close();
  } catch {
    // Closing a connection that failed: nothing to keep.
  }
}
