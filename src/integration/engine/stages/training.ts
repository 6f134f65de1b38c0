import type { RunContext } from '../run.ts';
import { summarizeTraining } from '../records/training.ts';
import { readSafetensorsHeader } from '../scan/safetensors.ts';
import { mapLimit } from '../util/map-limit.ts';

/** What the file says about itself (kohya ss_* keys, modelspec.*): a header read, no more. */
export async function readTraining(ctx: RunContext): Promise<void> {
  await mapLimit(
    ctx.items.filter((item) => item.file.ext === '.safetensors'),
    16,
    async (item) => {
      const header = await readSafetensorsHeader(item.file.path).catch(() => undefined);
      const summary = summarizeTraining(header?.metadata);
      if (summary) ctx.training.set(item.file.path, summary);
    },
  );
}
