/**
 * Which of our records a Krita `loras.json` entry describes. In order:
 *
 * 1. path — Krita's `id` is the LoRA name as ComfyUI reports it: the path relative to ComfyUI's
 *    loras folder, with backslashes when the server runs on Windows. It is compared with our
 *    `file.relativePath`, then as a path suffix of our absolute path (input path above the loras
 *    folder), then our relative path as a suffix of the id (input path below it). Local entries
 *    also carry the absolute `path`, compared as is. Case-insensitive when the id is Windows style.
 * 2. hash — Krita's `hash` is base64 of the raw SHA-256 digest (local files only).
 * 3. name — the file name of the id.
 *
 * When a step finds several different files, the entry's hash may settle it; copies of the same
 * file (same SHA-256) count as one; otherwise the entry is reported as ambiguous and left alone.
 */
import { z } from 'zod';
import type { ModelRecord } from '../records/schema.ts';
import { sha256HexToKritaHash } from './triggers.ts';

/** One element of `loras.json`: only `id` is required; everything else is kept as is. */
export const KritaEntrySchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().optional(),
  hash: z.string().nullish(),
  path: z.string().nullish(),
  metadata: z.unknown().optional(),
});
export type KritaEntry = z.infer<typeof KritaEntrySchema>;

export type MatchMethod = 'path' | 'hash' | 'name';

export type EntryMatch =
  | { kind: 'matched'; method: MatchMethod; record: ModelRecord }
  | { kind: 'ambiguous'; method: MatchMethod; candidates: ModelRecord[] }
  | { kind: 'none' };

interface Indexed {
  record: ModelRecord;
  relative: string;
  absolute: string;
  name: string;
  hash: string | undefined;
}

/** `\` → `/`, no `./` or leading `/`, no doubled separators. */
export function normalizeKritaId(id: string): string {
  return id
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/')
    .replace(/^(?:\.\/)+/, '')
    .replace(/^\//, '');
}

/** Ids written by a ComfyUI server on Windows: backslashes or a drive letter. */
export function isWindowsStyle(id: string): boolean {
  return id.includes('\\') || /^[A-Za-z]:/.test(id);
}

function endsWithSegments(full: string, suffix: string): boolean {
  return full === suffix || full.endsWith(`/${suffix}`);
}

export class RecordMatcher {
  private readonly items: Indexed[];
  private readonly byHash = new Map<string, Indexed[]>();

  constructor(records: readonly ModelRecord[]) {
    this.items = records.map((record) => ({
      record,
      relative: normalizeKritaId(record.file.relativePath),
      absolute: record.file.path.replace(/\\/g, '/'),
      name: record.file.name,
      hash: record.hashes.SHA256 ? sha256HexToKritaHash(record.hashes.SHA256) : undefined,
    }));
    for (const item of this.items) {
      if (!item.hash) continue;
      const list = this.byHash.get(item.hash) ?? [];
      list.push(item);
      this.byHash.set(item.hash, list);
    }
  }

  match(entry: Pick<KritaEntry, 'id' | 'hash' | 'path'>): EntryMatch {
    const windows = isWindowsStyle(entry.id);
    const fold = (value: string) => (windows ? value.toLowerCase() : value);
    const id = fold(normalizeKritaId(entry.id));
    const localPath = entry.path ? fold(entry.path.replace(/\\/g, '/')) : undefined;
    const hash = entry.hash?.trim() || undefined;

    const pathTiers: ((item: Indexed) => boolean)[] = [
      (item) => fold(item.relative) === id || (localPath !== undefined && fold(item.absolute) === localPath),
      (item) => id.includes('/') && endsWithSegments(fold(item.absolute), id),
      (item) => item.relative.includes('/') && endsWithSegments(id, fold(item.relative)),
    ];
    for (const tier of pathTiers) {
      const found = this.items.filter(tier);
      if (found.length > 0) return settle(found, 'path', hash);
    }
    if (hash) {
      const found = this.byHash.get(hash);
      if (found && found.length > 0) return settle(found, 'hash', hash);
    }
    const name = id.slice(id.lastIndexOf('/') + 1);
    const found = this.items.filter((item) => fold(item.name) === name);
    if (found.length > 0) return settle(found, 'name', hash);
    return { kind: 'none' };
  }
}

function settle(found: readonly Indexed[], method: MatchMethod, hash: string | undefined): EntryMatch {
  let candidates = found;
  if (candidates.length > 1 && hash) {
    const same = candidates.filter((item) => item.hash === hash);
    if (same.length > 0) candidates = same;
  }
  const first = candidates[0];
  if (!first) return { kind: 'none' };
  const sha = first.record.hashes.SHA256?.toUpperCase();
  const copies = candidates.every((item) => item.record === first.record || (sha !== undefined && item.record.hashes.SHA256?.toUpperCase() === sha));
  if (copies) return { kind: 'matched', method, record: first.record };
  return { kind: 'ambiguous', method, candidates: candidates.map((item) => item.record) };
}
