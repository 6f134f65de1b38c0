/**
 * What the scan's update stage (stages/updates.ts) gives every identified record: `updates`
 * (its family's newer versions, flagged or counted), which the gallery's badges and facet read. No request: the
 * versions are the freshest known, either the parent model the record carries (fetched in this
 * or an earlier run) or the last `civitscraper updates` check (updates.json), whichever CivitAI
 * gave later.
 */
import type { ModelRecord } from '../records/schema.ts';
import { libraryUpdates, modelFacts } from './rules.ts';
import type { UpdateState, VersionFacts } from './schema.ts';

/** Sets `updates` on each identified record whose model's versions are known. */
export function annotateRecords(records: ModelRecord[], options: { state: UpdateState; ignore: readonly number[]; now: number }): void {
  const ignore = new Set([...options.ignore, ...options.state.ignore]);
  const known = new Set<number>();
  const results = libraryUpdates(records, {
    ignore,
    now: options.now,
    versionsOf: (modelId, group) => {
      const versions = freshestVersions(modelId, group as ModelRecord[], options.state);
      if (versions) known.add(modelId);
      return versions;
    },
  });
  for (const record of records) {
    const result = results.get(record.id);
    const modelId = record.version?.modelId ?? record.model?.id;
    if (result && typeof modelId === 'number' && known.has(modelId)) record.updates = result.newer;
  }
}

/**
 * The model's versions as last told by CivitAI: the record's parent model (the most recently
 * checked one of its files) or the snapshot of the last update check, whichever is newer. A
 * model CivitAI deleted has none to offer. A parent whose lookup failed in this run is as old
 * as the data kept from before, not as new as the run.
 */
export function freshestVersions(modelId: number, records: readonly ModelRecord[], state: UpdateState): VersionFacts[] | undefined {
  const snapshot = state.models[String(modelId)];
  if (records.some((record) => record.civitai.removedFromCivitai)) return [];
  let best: { at: number; model: NonNullable<ModelRecord['model']> } | undefined;
  for (const record of records) {
    if (!record.model?.modelVersions?.length) continue;
    const failed = record.problems.some((problem) => problem.stage === 'enrich');
    const at = failed ? Number.NEGATIVE_INFINITY : Date.parse(record.civitai.checkedAt ?? '') || Number.NEGATIVE_INFINITY;
    if (!best || at > best.at) best = { at, model: record.model };
  }
  const snapshotAt = snapshot ? Date.parse(snapshot.fetchedAt) : Number.NaN;
  if (snapshot && !Number.isNaN(snapshotAt) && (!best || snapshotAt > best.at)) return snapshot.missing ? [] : snapshot.versions;
  return best ? modelFacts(best.model) : undefined;
}
