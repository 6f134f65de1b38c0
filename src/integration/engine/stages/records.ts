import { assignRecordIds } from '../records/id.ts';
import type { ModelRecord } from '../records/schema.ts';
import type { RunContext } from '../run.ts';
import { airOf } from '../sources/air.ts';
import { sizeMismatch } from './identify.ts';

/** One record per item; a record shares its item's `problems`, so later stages' problems show. */
export async function buildRecords(ctx: RunContext): Promise<void> {
  const { items, training } = ctx;
  const ids = assignRecordIds(items.map((item) => ({ stem: item.file.stem, sha256: item.hashes?.SHA256 ?? '' })));
  ctx.records = items.map((item, index): ModelRecord => {
    const status = item.identification?.status ?? 'not-checked';
    const doubtful = item.version && status === 'identified' ? sizeMismatch(item.version, item) : undefined;
    const identified = item.identification?.status === 'identified' ? item.identification : undefined;
    const { dev, ino, ...file } = item.file;
    void dev;
    void ino;
    return {
      id: ids[index] as string,
      file,
      hashes: item.hashes ?? {},
      civitai: {
        status,
        ...(item.checkedAt ? { checkedAt: item.checkedAt } : {}),
        ...(item.identification?.status === 'unknown' ? { error: item.identification.error } : {}),
        ...(doubtful ? { doubtful } : {}),
        ...(identified?.source ? { source: identified.source } : {}),
        ...(identified?.linked ? { linked: true } : {}),
        ...(identified?.removedFromCivitai ? { removedFromCivitai: true } : {}),
      },
      ...(item.version && airOf(item.version, item.model) ? { air: airOf(item.version, item.model) } : {}),
      ...(item.version ? { version: item.version } : {}),
      ...(item.model ? { model: item.model } : {}),
      images: item.images,
      ...(training.has(item.file.path) ? { training: training.get(item.file.path) } : {}),
      problems: item.problems,
    };
  });
}
