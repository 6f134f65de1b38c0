/**
 * The library at a glance, for the stats page: counts and disk use by type, base model and
 * folder, the largest and newest files, and what needs attention (not identified, a newer
 * version on CivitAI, duplicates). Computed at build time from the entries the gallery shows.
 */
import type { ModelRecord } from '../engine/records/schema.ts';
import type { SiteSettings } from './settings.ts';
import { hasNewerVersion, libraryContext, modelView, type ModelView } from './view.ts';

export interface Tally {
  label: string;
  count: number;
  bytes: number;
}

export interface FileRow {
  id: string;
  name: string;
  type: string;
  size: number;
  /** ms since the epoch: when the file last changed on disk (the gallery's "date added"). */
  mtimeMs: number;
}

export interface LibraryStats {
  files: number;
  bytes: number;
  byType: Tally[];
  byBaseModel: Tally[];
  /** By input path and first folder below it (`loras/SDXL`). */
  byFolder: Tally[];
  largest: FileRow[];
  recent: FileRow[];
  unidentified: FileRow[];
  withUpdates: FileRow[];
  /** Files that share bytes (same SHA-256) or one CivitAI version, in groups of two or more. */
  duplicates: { reason: 'same file' | 'same version'; files: FileRow[] }[];
}

const TOP = 10;

export function libraryStats(records: readonly ModelRecord[], settings: Pick<SiteSettings, 'domains' | 'nsfwThreshold'>): LibraryStats {
  const context = libraryContext(records);
  // One view per record: the type's tally reads it from the row.
  const rows = records.map((record) => ({ record, row: fileRow(record, modelView(record, settings)) }));
  const tally = (keyOf: (item: (typeof rows)[number]) => string | undefined) => {
    const by = new Map<string, Tally>();
    for (const item of rows) {
      const { record } = item;
      const label = keyOf(item) ?? 'Unknown';
      const entry = by.get(label) ?? { label, count: 0, bytes: 0 };
      entry.count += 1;
      entry.bytes += record.file.size;
      by.set(label, entry);
    }
    return [...by.values()].sort((a, b) => b.count - a.count || b.bytes - a.bytes || a.label.localeCompare(b.label, 'en'));
  };
  const byDesc = <T>(key: (item: T) => number) => (a: T, b: T) => key(b) - key(a);
  return {
    files: records.length,
    bytes: records.reduce((sum, record) => sum + record.file.size, 0),
    byType: tally(({ row }) => row.type),
    byBaseModel: tally(({ record }) => record.version?.baseModel ?? undefined),
    byFolder: tally(({ record }) => [record.file.inputPathId, record.file.folder.split('/')[0]].filter(Boolean).join('/')),
    largest: rows.map(({ row }) => row).sort(byDesc((row) => row.size)).slice(0, TOP),
    recent: rows.map(({ row }) => row).sort(byDesc((row) => row.mtimeMs)).slice(0, TOP),
    unidentified: rows.filter(({ record }) => record.civitai.status !== 'identified').map(({ row }) => row),
    withUpdates: rows.filter(({ record }) => hasNewerVersion(record, context, settings)).map(({ row }) => row),
    duplicates: duplicateGroups(rows),
  };
}

function fileRow(record: ModelRecord, view: ModelView): FileRow {
  return { id: record.id, name: view.versionName ? `${view.name} · ${view.versionName}` : view.name, type: view.type, size: record.file.size, mtimeMs: record.file.mtimeMs };
}

function duplicateGroups(rows: { record: ModelRecord; row: FileRow }[]): LibraryStats['duplicates'] {
  const bySha = new Map<string, FileRow[]>();
  const byVersion = new Map<number, { sha: Set<string>; files: FileRow[] }>();
  for (const { record, row } of rows) {
    const sha = record.hashes.SHA256?.toUpperCase();
    if (sha) bySha.set(sha, [...(bySha.get(sha) ?? []), row]);
    const version = record.version?.id;
    if (version !== undefined) {
      const group = byVersion.get(version) ?? { sha: new Set<string>(), files: [] };
      group.files.push(row);
      if (sha) group.sha.add(sha);
      byVersion.set(version, group);
    }
  }
  const groups: LibraryStats['duplicates'] = [];
  for (const files of bySha.values()) if (files.length > 1) groups.push({ reason: 'same file', files });
  // The same version in files that differ (a re-save, a conversion); identical copies are above.
  for (const { sha, files } of byVersion.values()) if (files.length > 1 && sha.size > 1) groups.push({ reason: 'same version', files });
  return groups;
}
