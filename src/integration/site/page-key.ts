/**
 * The `cacheKey` of a model page for Astro's incremental builds (`experimental.incrementalBuild`):
 * a page is rendered again only when this changes. It covers everything the page shows: its own
 * entry, its details file, and the other local files it names (the copies of its versions and
 * its duplicates), so deleting one file re-renders the pages that linked to it.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { siteDetailsFile } from './details.ts';
import type { SiteEntry } from './sync.ts';
import type { LibraryContext } from './view.ts';

export function modelPageKey(entry: SiteEntry, context: LibraryContext, names: ReadonlyMap<string, string>, detailsDir: string): string {
  const record = entry.data;
  const versions = new Set<number>((record.model?.modelVersions ?? []).map((version) => version.id));
  if (record.version) versions.add(record.version.id);
  const related = new Set<string>();
  for (const id of versions) for (const local of context.localByVersion.get(id) ?? []) related.add(local);
  const sha = record.hashes.SHA256?.toUpperCase();
  for (const local of (sha && context.localBySha?.get(sha)) || []) related.add(local);
  related.delete(entry.id);
  const details = statSync(siteDetailsFile(detailsDir, entry.id), { throwIfNoEntry: false });
  const shown = [record, details ? [details.size, details.mtimeMs] : null, [...related].sort().map((id) => [id, names.get(id) ?? null])];
  return createHash('sha256').update(JSON.stringify(shown)).digest('hex').slice(0, 32);
}
