import { defineComputed, isSet } from '../records/lazy.ts';
import type { ModelRecord } from '../records/schema.ts';
import { factsOf } from '../records/version-facts.ts';
import type { RunContext } from '../run.ts';
import { annotateRecords } from '../updates/stage.ts';
import { readUpdateState } from '../updates/state.ts';

/**
 * The records' `updates` (updates/stage.ts), worked out per model when first read: the rules
 * read every version and parent model of a model's records, and on a rerun those are unparsed
 * (records/lazy.ts), so working them out for the whole library at once would parse every stored
 * answer. The result is the same (the rules look at one model at a time), with the update state
 * and the clock of this run.
 */
export async function annotateUpdatesWhenRead(ctx: RunContext): Promise<void> {
  // The scan holds the cache lock: a damaged file is moved aside now, before anything writes over it.
  const state = await readUpdateState(ctx.config.scanner.cache_dir, ctx.log, { damaged: ctx.dryRun ? 'keep' : 'set-aside' });
  const options = { state, ignore: ctx.config.updates.ignore, now: Date.now() };
  const byModel = new Map<number, ModelRecord[]>();
  for (const record of ctx.records) {
    if (record.civitai.status !== 'identified' || !isSet(record, 'version')) continue;
    // Known without parsing the version (the stamp's facts).
    const modelId = factsOf(record)?.modelId;
    if (modelId === undefined) continue;
    const group = byModel.get(modelId);
    if (group) group.push(record);
    else byModel.set(modelId, [record]);
  }
  for (const group of byModel.values()) {
    let done = false;
    const compute = () => {
      if (done) return;
      done = true;
      annotateRecords(group, options);
    };
    for (const record of group) defineComputed(record, 'updates', compute);
  }
}
