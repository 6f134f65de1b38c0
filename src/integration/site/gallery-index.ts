/**
 * The gallery's search index, in two parts:
 *
 * - `core`, a classic script the gallery page loads after its first cards (`window.__csCore`):
 *   what the gallery needs to filter and count as you type or click: names, facet values, flags.
 * - `extra`, a classic script fetched right after the first paint: what drawing cards needs —
 *   page ids (links and thumbnail URLs follow from them), version names, the numbers cards show
 *   and sort by — plus file names and trigger words for the search. Until it arrives the gallery
 *   keeps the server-rendered first page of cards (and counts match from the core alone).
 *
 * Compact because a 10,000-model library must stay a small first load:
 * - one array per field (columns compress far better than an object per model);
 * - facet values are positions in dictionaries sorted by frequency (common values get short
 *   numbers); a model's tags are sorted;
 * - dates are whole days (update dates as days after creation), sizes KiB, rating tenths;
 * - models are stored in name order, so the name sort and its tie-break cost nothing;
 * - page ids and thumbnail URLs are not stored: the id is `slugify(stem)-<SHA-256 prefix>`
 *   (records/id.ts) and the thumbnail `thumbs/<id>.webp`; only ids that differ (the `-2` of a
 *   duplicate file) are listed.
 *
 * Read by src/components/client/gallery-core.js (`decodeIndex`, `attachExtra`).
 */
import type { ModelRecord } from '../engine/records/schema.ts';
import { slugify } from '../engine/records/id.ts';
import type { SiteSettings } from './settings.ts';
import { sidecarWeight } from './entries.ts';
import type { SiteSidecarValues } from './sidecar-values.ts';
import { SOURCES } from './status.ts';
import {
  blurhashColour,
  coverImage,
  duplicatesOf,
  hasNewerVersion,
  levelIndex,
  libraryContext,
  modelView,
  parseDate,
  usageKind,
  type LibraryContext,
  type ModelView,
} from './view.ts';

export const INDEX_FORMAT = 4;

/** Bits of the `f` column. */
export const FLAG = {
  /** A card thumbnail exists at `thumbs/<id>.webp`. */
  thumb: 1,
  /** The cover is a video's still frame. */
  video: 2,
  /** A newer version is on CivitAI and not in the library. */
  newer: 4,
  /** Flagged NSFW (links go to the NSFW domain). */
  nsfw: 8,
  /** Another file of the library has the same bytes (SHA-256). */
  sameFile: 16,
  /** Another file of the library is the same CivitAI version. */
  sameVersion: 32,
  /** Linked to its version by hand (`civitscraper link`), not found by hash. */
  linked: 64,
  /** CivitAI answered for it before and now says it is gone. */
  removed: 128,
  /** The file was not found by the last run (site/missing.ts); the entry is kept for a while. */
  missing: 256,
} as const;

/** Characters of the `u` string: how a model goes into a prompt (see view.ts `usageKind`). */
export const USAGE = { none: '0', lora: '1', embedding: '2' } as const;

/** `s` column values. */
export const STATUSES = ['identified', 'not-found', 'unknown', 'not-checked'] as const;

/** Days are counted from this date (2015-01-01) to keep the numbers short. */
export const DAY_ZERO = Date.UTC(2015, 0, 1);
const DAY = 86_400_000;

export interface GalleryIndexCore {
  v: typeof INDEX_FORMAT;
  /** Number of models. */
  n: number;
  /** Dictionaries, most frequent value first: a facet column holds positions in these. */
  d: {
    type: string[];
    base: string[];
    creator: string[];
    tag: string[];
    folder: string[];
    /** Parent of each folder (position in `folder`), -1 for an input path root. */
    folderParent: number[];
  };
  c: {
    /** Display name. */
    name: string[];
    type: number[];
    /** -1: none. */
    base: number[];
    /** -1: none. */
    creator: number[];
    /** Positions in `d.tag`, sorted, each after the first as the difference to the one before. */
    tags: number[][];
    /** The model file's folder (a leaf of the folder tree). */
    folder: number[];
    /** Content rating index of the model × 6 + rating index of the cover image (0 unrated … 5 XXX). */
    lv: number[];
    /** FLAG bits. */
    f: number[];
    /** Position in STATUSES. */
    s: number[];
    /** Local files of one CivitAI model share a group number (1, 2, …); 0: the only file of its model. */
    g: number[];
    /** Position in status.ts SOURCES of the source that answered; -1: none (not identified, or an older record). */
    src: number[];
  };
}

export interface GalleryIndexExtra {
  v: typeof INDEX_FORMAT;
  n: number;
  /** File name without extension. */
  stem: string[];
  /** First 10 hex digits of the SHA-256, all concatenated. */
  h: string;
  /** Position → page id, for ids that are not `slugify(stem)-h`. */
  x: Record<string, string>;
  /** Version name ('' when none). */
  ver: string[];
  /** Trigger words joined with `, `. */
  trig: string[];
  /** Versions on CivitAI. */
  vc: number[];
  /** Created: days since DAY_ZERO; null when unknown. */
  cr: (number | null)[];
  /** Updated: days after `cr` (or since DAY_ZERO when `cr` is null); null when unknown. */
  up: (number | null)[];
  dl: (number | null)[];
  tu: (number | null)[];
  /** Rating × 10. */
  ra: (number | null)[];
  /** KiB. */
  sz: number[];
  /** Local file modification day (days since DAY_ZERO). */
  ad: number[];
  /** Placeholder colour of the cover (6 hex digits per model, `-` when none), concatenated. */
  ph: string;
  /** Only without model pages (`html.enabled: false`): where a card links ('' for none). */
  url?: string[];
  /** One USAGE character per model, concatenated. */
  u: string;
  /** Only with `html.show_local_paths`: folders of the model files (with the trailing separator). */
  pd?: string[];
  /** Position in `pd` of each model's folder. */
  pi?: number[];
  /** File name after the stem (the extension). */
  pe?: string[];
  /** Position → file name, for names that are not `stem + pe`. */
  pn?: Record<string, string>;
  /** Position → preferred weight from an A1111 / ComfyUI-Lora-Manager sidecar (only where one is set). */
  w?: Record<string, number>;
}

export interface GalleryIndex {
  core: GalleryIndexCore;
  extra: GalleryIndexExtra;
}

export interface IndexOptions {
  settings: Pick<SiteSettings, 'domains' | 'nsfwThreshold' | 'sfwOnly' | 'modelPages'> & Partial<Pick<SiteSettings, 'showLocalPaths'>>;
  /** Precomputed context when the caller has one (the same records). */
  context?: LibraryContext;
  /** What the site entry adds to its record, by record id: sidecar values, missing since. */
  info?: ReadonlyMap<string, EntryInfo>;
}

export interface EntryInfo {
  sidecar?: SiteSidecarValues;
  missing?: { since: string };
}

/** Name order, the same on every machine (not the browser's locale). */
const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

export function compareNames(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export function derivedId(stem: string, sha256: string | undefined): string {
  return `${slugify(stem)}-${(sha256 ?? '').slice(0, 10).toLowerCase()}`;
}

/** Records with their views in gallery order (name, then path): the order of the index. */
export function galleryOrder<T extends ModelRecord>(
  records: readonly T[],
  settings: IndexOptions['settings'],
): { record: T; view: ModelView }[] {
  const rows = records.map((record) => ({ record, view: modelView(record, settings) }));
  return rows.sort(
    (a, b) => compareNames(a.view.name, b.view.name) || compareNames(a.record.file.relativePath, b.record.file.relativePath),
  );
}

export function buildGalleryIndex(records: readonly ModelRecord[], options: IndexOptions): GalleryIndex {
  const { settings } = options;
  const context = options.context ?? libraryContext(records);
  const rows = galleryOrder(records, settings);

  const perModel = new Map<number, number>();
  for (const { view } of rows) if (view.modelId !== undefined) perModel.set(view.modelId, (perModel.get(view.modelId) ?? 0) + 1);
  const groups = new Map<number, number>();

  const dict = { type: new Dictionary(), base: new Dictionary(), creator: new Dictionary(), tag: new Dictionary() };
  const folders = new FolderDictionary();
  const raw = rows.map(({ record, view }) => {
    const cover = coverImage(record, settings);
    const shared = view.modelId !== undefined && (perModel.get(view.modelId) ?? 0) > 1;
    if (shared && !groups.has(view.modelId as number)) groups.set(view.modelId as number, groups.size + 1);
    const created = days(view.createdAt);
    const updated = days(view.updatedAt);
    return {
      record,
      view,
      cover,
      type: dict.type.add(view.type),
      base: view.baseModel ? dict.base.add(view.baseModel) : -1,
      creator: view.creator ? dict.creator.add(view.creator) : -1,
      tags: view.tags.map((tag) => dict.tag.add(tag)),
      folder: folders.add(record.file.inputPathId, record.file.folder),
      group: shared ? (groups.get(view.modelId as number) ?? 0) : 0,
      created,
      updated: updated === null ? null : created === null ? updated : Math.max(0, updated - created),
    };
  });
  const types = dict.type.finish();
  const bases = dict.base.finish();
  const creators = dict.creator.finish();
  const tags = dict.tag.finish();
  const folderTree = folders.finish();

  const core: GalleryIndexCore = {
    v: INDEX_FORMAT,
    n: rows.length,
    d: {
      type: types.values,
      base: bases.values,
      creator: creators.values,
      tag: tags.values,
      folder: folderTree.values,
      folderParent: folderTree.parents,
    },
    c: {
      name: [], type: [], base: [], creator: [], tags: [], folder: [], lv: [], f: [], s: [], g: [], src: [],
    },
  };
  const extra: GalleryIndexExtra = {
    v: INDEX_FORMAT,
    n: rows.length,
    stem: [], h: '', x: {}, ver: [], trig: [], vc: [], cr: [], up: [], dl: [], tu: [], ra: [], sz: [], ad: [], ph: '', u: '',
  };
  const c = core.c;
  const hashes: string[] = [];
  const colours: string[] = [];
  const usage: string[] = [];
  const paths = settings.showLocalPaths ? { folders: new Map<string, number>(), pd: [] as string[], pi: [] as number[], pe: [] as string[], pn: {} as Record<string, string> } : undefined;
  raw.forEach((row, position) => {
    const { record, view, cover } = row;
    const duplicates = duplicatesOf(record, context);
    const info = options.info?.get(record.id);
    c.name.push(view.name);
    c.type.push(types.map(row.type));
    c.base.push(bases.map(row.base));
    c.creator.push(creators.map(row.creator));
    c.tags.push(deltas(row.tags.map((tag) => tags.map(tag)).sort((a, b) => a - b)));
    c.folder.push(folderTree.map(row.folder));
    c.lv.push(view.level * 6 + (cover ? levelIndex(cover.nsfwLevel) : 0));
    c.f.push(
      (cover ? FLAG.thumb : 0) |
        (cover?.type === 'video' ? FLAG.video : 0) |
        (hasNewerVersion(record, context, settings) ? FLAG.newer : 0) |
        (view.nsfw ? FLAG.nsfw : 0) |
        (duplicates.sameFile.length ? FLAG.sameFile : 0) |
        (duplicates.sameVersion.length ? FLAG.sameVersion : 0) |
        (record.civitai.linked ? FLAG.linked : 0) |
        (record.civitai.removedFromCivitai ? FLAG.removed : 0) |
        (info?.missing ? FLAG.missing : 0),
    );
    c.s.push(STATUSES.indexOf(record.civitai.status));
    c.g.push(row.group);
    c.src.push(record.civitai.source ? SOURCES.indexOf(record.civitai.source) : -1);
    const weight = sidecarWeight(info?.sidecar);
    if (weight !== undefined) (extra.w ??= {})[position] = weight;
    extra.vc.push(view.versionCount);
    extra.cr.push(row.created);
    extra.up.push(row.updated);
    extra.dl.push(view.stats.downloads ?? null);
    extra.tu.push(view.stats.thumbsUp ?? null);
    extra.ra.push(typeof view.stats.rating === 'number' && view.stats.rating > 0 ? Math.round(view.stats.rating * 10) : null);
    extra.sz.push(Math.round(record.file.size / 1024));
    extra.ad.push(Math.max(0, Math.floor((record.file.mtimeMs - DAY_ZERO) / DAY)));

    const sha = (record.hashes.SHA256 ?? '').slice(0, 10).toLowerCase().padEnd(10, '0');
    hashes.push(sha);
    if (derivedId(record.file.stem, sha) !== record.id) extra.x[position] = record.id;
    extra.stem.push(record.file.stem);
    extra.ver.push(view.versionName ?? '');
    extra.trig.push(view.triggerWords.join(', '));
    colours.push(blurhashColour(cover?.blurhash)?.slice(1) ?? '------');
    if (!settings.modelPages) (extra.url ??= []).push(view.civitaiUrl ?? '');
    const kind = usageKind(view.type);
    usage.push(kind ? USAGE[kind] : USAGE.none);
    if (paths) {
      const { path: full, name, stem } = record.file;
      const folder = full.slice(0, full.length - name.length);
      let at = paths.folders.get(folder);
      if (at === undefined) {
        at = paths.pd.length;
        paths.pd.push(folder);
        paths.folders.set(folder, at);
      }
      paths.pi.push(at);
      const rest = name.startsWith(stem) ? name.slice(stem.length) : '';
      paths.pe.push(rest);
      if (stem + rest !== name) paths.pn[position] = name;
    }
  });
  extra.h = hashes.join('');
  extra.ph = colours.join('');
  extra.u = usage.join('');
  if (paths) Object.assign(extra, { pd: paths.pd, pi: paths.pi, pe: paths.pe, pn: paths.pn });
  return { core, extra };
}

function deltas(sorted: number[]): number[] {
  return sorted.map((value, index) => (index === 0 ? value : value - (sorted[index - 1] as number)));
}

function days(value: string | undefined): number | null {
  const time = parseDate(value);
  return time === undefined ? null : Math.max(0, Math.round((time - DAY_ZERO) / DAY));
}

/**
 * JSON for a `<script type="application/json">`: `<` is escaped so no text in the data can end
 * the element or open a comment.
 */
export function indexJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The `core` part as the classic script the gallery page loads before its own (`window.__csCore = …`). */
export function coreScript(core: GalleryIndexCore): string {
  return `window.__csCore=${indexJson(core)};\n`;
}

/** The `extra` part as the classic script the gallery loads (`window.__csExtra = …`). */
export function extraScript(extra: GalleryIndexExtra): string {
  return `window.__csExtra=${indexJson(extra)};\nif(window.__csOnExtra)window.__csOnExtra();\n`;
}

/** Collects values with their counts; `finish` orders them by count (then name). */
class Dictionary {
  private readonly positions = new Map<string, number>();
  private readonly values: string[] = [];
  private readonly counts: number[] = [];

  add(value: string): number {
    let position = this.positions.get(value);
    if (position === undefined) {
      position = this.values.length;
      this.values.push(value);
      this.counts.push(0);
      this.positions.set(value, position);
    }
    this.counts[position] = (this.counts[position] ?? 0) + 1;
    return position;
  }

  finish(): { values: string[]; map: (position: number) => number } {
    const order = this.values.map((_, position) => position);
    order.sort((a, b) => (this.counts[b] ?? 0) - (this.counts[a] ?? 0) || compareNames(this.values[a] ?? '', this.values[b] ?? ''));
    const rank: number[] = [];
    order.forEach((position, index) => (rank[position] = index));
    return { values: order.map((position) => this.values[position] ?? ''), map: (position) => (position < 0 ? -1 : (rank[position] ?? -1)) };
  }
}

/** `loras`, `loras/SDXL`, `loras/SDXL/styles`: every ancestor is a value too (a tree facet). */
class FolderDictionary {
  private readonly values: string[] = [];
  private readonly parents: number[] = [];
  private readonly counts: number[] = [];
  private readonly positions = new Map<string, number>();

  add(inputPathId: string, folder: string): number {
    let parent = -1;
    let key = '';
    for (const part of [inputPathId, ...folder.split('/').filter(Boolean)]) {
      key = key ? `${key}/${part}` : part;
      let position = this.positions.get(key);
      if (position === undefined) {
        position = this.values.length;
        this.values.push(key);
        this.parents.push(parent);
        this.counts.push(0);
        this.positions.set(key, position);
      }
      parent = position;
    }
    this.counts[parent] = (this.counts[parent] ?? 0) + 1;
    return parent;
  }

  finish(): { values: string[]; parents: number[]; map: (position: number) => number } {
    const order = this.values.map((_, position) => position);
    order.sort((a, b) => (this.counts[b] ?? 0) - (this.counts[a] ?? 0) || compareNames(this.values[a] ?? '', this.values[b] ?? ''));
    const rank: number[] = [];
    order.forEach((position, index) => (rank[position] = index));
    return {
      values: order.map((position) => this.values[position] ?? ''),
      parents: order.map((position) => {
        const parent = this.parents[position] ?? -1;
        return parent < 0 ? -1 : (rank[parent] ?? -1);
      }),
      map: (position) => rank[position] ?? -1,
    };
  }
}
