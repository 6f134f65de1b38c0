import { copyLazy, isSet } from '../records/lazy.ts';
import { assignRecordIds } from '../records/id.ts';
import type { LocalFile, ModelRecord } from '../records/schema.ts';
import { factsOf, sizeMismatchOf } from '../records/version-facts.ts';
import type { RunContext } from '../run.ts';
import type { DiscoveredFile } from '../scan/discover.ts';

/**
 * One record per item; a record shares its item's `problems`, so later stages' problems show.
 * The version and model of an item that needed no work stay unparsed (records/lazy.ts): its
 * AIR and size check come from the stamp's facts.
 */
export async function buildRecords(ctx: RunContext): Promise<void> {
  const { items, training } = ctx;
  const ids = assignRecordIds(items.map((item) => ({ stem: item.file.stem, sha256: item.hashes?.SHA256 ?? '' })));
  ctx.records = items.map((item, index): ModelRecord => {
    const status = item.identification?.status ?? 'not-checked';
    const hasVersion = isSet(item, 'version');
    const facts = hasVersion ? factsOf(item) : undefined;
    const doubtful = status === 'identified' ? sizeMismatchOf(facts, item.file.size) : undefined;
    const identified = item.identification?.status === 'identified' ? item.identification : undefined;
    const file = localFileOf(item.file);
    const summary = training.get(item.file.path);
    // Field by field, not spreads of conditional objects: a temporary object each, per record per run.
    const civitai: Record<string, unknown> = { status };
    if (item.checkedAt) civitai.checkedAt = item.checkedAt;
    if (item.identification?.status === 'unknown') civitai.error = item.identification.error;
    if (doubtful) civitai.doubtful = doubtful;
    if (identified?.source) civitai.source = identified.source;
    if (identified?.linked) civitai.linked = true;
    if (identified?.removedFromCivitai) civitai.removedFromCivitai = true;
    const record = { id: ids[index] as string, file, hashes: item.hashes ?? {}, civitai } as unknown as ModelRecord;
    if (facts?.air) record.air = facts.air;
    // In the order they always had (JSON output, the site's data).
    if (hasVersion) copyLazy(record, item, 'version');
    if (isSet(item, 'model')) copyLazy(record, item, 'model');
    record.images = item.images;
    if (summary) record.training = summary;
    record.problems = item.problems;
    return record;
  });
}

/** The file as a record has it: without the device and inode (state-store keys, not data). */
function localFileOf(file: DiscoveredFile): LocalFile {
  // Field by field: a rest pattern (`{ dev, ino, ...rest }`) costs several times as much, per record per run.
  return {
    path: file.path,
    inputPathId: file.inputPathId,
    inputType: file.inputType,
    relativePath: file.relativePath,
    folder: file.folder,
    name: file.name,
    stem: file.stem,
    ext: file.ext,
    size: file.size,
    mtimeMs: file.mtimeMs,
  };
}
