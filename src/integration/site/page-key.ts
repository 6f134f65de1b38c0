/**
 * The `cacheKey` of a model page for Astro's incremental builds (`experimental.incrementalBuild`):
 * a page is rendered again only when this changes. It covers everything the page shows: its own
 * entry (with its sidecar notes and weight, and whether its file is missing), its details file,
 * the other local files it names (the copies of its versions, its duplicates, and the local
 * models its images were made with), and its values in the curation file, so deleting one file
 * re-renders the pages that linked to it and a new curation file the pages it changes.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { CurationEntry } from './curation.ts';
import { siteDetailsFile } from './details.ts';
import { resolveRefs, type ResourceLookup } from './resources.ts';
import type { SiteEntry } from './sync.ts';
import type { LibraryContext } from './view.ts';

export function modelPageKey(
  entry: SiteEntry,
  context: LibraryContext,
  names: ReadonlyMap<string, string>,
  detailsDir: string,
  /** The curation file's values for this page, and the lookup its image resources link through. */
  more: { curation?: CurationEntry | undefined; resources?: ResourceLookup } = {},
): string {
  const record = entry.data;
  const versions = new Set<number>((record.model?.modelVersions ?? []).map((version) => version.id));
  if (record.version) versions.add(record.version.id);
  const related = new Set<string>();
  for (const id of versions) for (const local of context.localByVersion.get(id) ?? []) related.add(local);
  const sha = record.hashes.SHA256?.toUpperCase();
  for (const local of (sha && context.localBySha?.get(sha)) || []) related.add(local);
  related.delete(entry.id);
  const linked = more.resources ? resolveRefs(entry.refs, more.resources) : [];
  const details = statSync(siteDetailsFile(detailsDir, entry.id), { throwIfNoEntry: false });
  const shown = [
    record,
    details ? [details.size, details.mtimeMs] : null,
    [...related].sort().map((id) => [id, names.get(id) ?? null]),
    linked.map((id) => [id, names.get(id) ?? null]),
    entry.sidecar ?? null,
    entry.missing ?? null,
    more.curation ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(shown)).digest('hex').slice(0, 32);
}
