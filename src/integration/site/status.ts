/**
 * How a record came to be known, for pages, badges and facets: which source answered, whether it
 * was linked by hand, whether CivitAI has since removed it, whether its file is missing. One
 * table, so the model page, the server-rendered cards and the gallery's script
 * (client/gallery-core.js `SOURCE_LABELS`, `STATE_LABELS`) say the same.
 */
import type { ModelRecord } from '../engine/records/schema.ts';
import type { SiteEntry } from './sync.ts';

/** Index order of the `src` column of the gallery index. */
export const SOURCES = ['civitai', 'civitai_red', 'civarchive', 'archive_db'] as const;
export const SOURCE_LABELS: Record<(typeof SOURCES)[number], string> = {
  civitai: 'CivitAI',
  civitai_red: 'civitai.red',
  civarchive: 'CivArchive',
  archive_db: 'Offline archive',
};

/** Values of the gallery's Status facet, in this order. */
export const STATE_LABELS = ['Linked by hand', 'Removed from CivitAI', 'Missing file'] as const;

export interface RecordState {
  linked: boolean;
  removed: boolean;
  missing?: { since: string };
  source?: (typeof SOURCES)[number];
}

export function recordState(record: ModelRecord, entry?: Pick<SiteEntry, 'missing'>): RecordState {
  const source = record.civitai.source;
  return {
    linked: record.civitai.linked === true,
    removed: record.civitai.removedFromCivitai === true,
    ...(entry?.missing ? { missing: entry.missing } : {}),
    ...(source ? { source } : {}),
  };
}

/** What the model page says about the source. */
export const SOURCE_DETAILS: Record<(typeof SOURCES)[number], string> = {
  civitai: 'CivitAI API',
  civitai_red: 'civitai.red API',
  civarchive: 'CivArchive (a mirror of CivitAI)',
  archive_db: 'Offline archive (ComfyUI-Lora-Manager’s database)',
};
