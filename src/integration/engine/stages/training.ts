import type { RunContext, WorkItem } from '../run.ts';
import { summarizeTraining, type TrainingSummary } from '../records/training.ts';
import { ModelFileError, readSafetensorsHeader } from '../scan/safetensors.ts';
import { mapLimit } from '../util/map-limit.ts';

/**
 * A safetensors file's header, read once per run whoever needs it first (hashing, the second
 * read for AutoV3, this stage): where its tensors start, and its training summary. A header that
 * is not one has no summary (and the error goes to the caller).
 */
export async function readHeaderOnce(item: WorkItem): Promise<number> {
  if (item.tensorOffset !== undefined) return item.tensorOffset;
  try {
    const header = await readSafetensorsHeader(item.file.path);
    item.tensorOffset = 8 + header.headerLength;
    learn(item, summarizeTraining(header.metadata) ?? null);
    return item.tensorOffset;
  } catch (error) {
    if (error instanceof ModelFileError) learn(item, null);
    throw error;
  }
}

function learn(item: WorkItem, training: TrainingSummary | null): void {
  if (item.training !== undefined) return;
  item.training = training;
  item.trainingRead = true;
}

/**
 * What the file says about itself (kohya ss_* keys, modelspec.*): a header read, no more, and
 * none for a file whose stamp in the state store knows it already (sidecar-stamps.ts) or whose
 * header this run read before.
 */
export async function readTraining(ctx: RunContext): Promise<void> {
  const { state } = ctx;
  for (const item of ctx.items) if (item.training === undefined && item.file.ext !== '.safetensors') item.training = null;
  await mapLimit(
    ctx.items.filter((item) => item.training === undefined),
    16,
    async (item) => {
      // A header that is not one has nothing to tell; one that cannot be read now (a busy
      // share, permissions) stays unknown, so the next run reads it again.
      await readHeaderOnce(item).catch(() => undefined);
    },
  );
  for (const item of ctx.items) if (item.training) ctx.training.set(item.file.path, item.training);
  // Kept for the next run: in the sidecar's stamp when it has one (a model identified in this
  // run is stamped with it when its sidecar is written), else in the hash ledger.
  const toStamp = ctx.items.filter((item) => item.stampWithoutTraining && item.training !== undefined);
  const toLedger = ctx.items.filter((item) => item.trainingRead && !item.stampWithoutTraining && item.identification?.status !== 'identified');
  if (!state || (toStamp.length === 0 && toLedger.length === 0)) return;
  try {
    state.transaction(() => {
      for (const item of toStamp) state.sidecars.setTraining(item.layout.metadataPath, item.training ?? null);
      for (const item of toLedger) state.ledger.setTraining(item.file, item.training ?? null);
    });
  } catch {
    // Only saves a header read next time; the store's guard already warned.
  }
}
