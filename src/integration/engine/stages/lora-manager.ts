import type { RunContext } from '../run.ts';
import { loraManagerMetadata, loraManagerPath, readLoraManagerMetadata, writeLoraManagerMetadata } from '../sidecars/compat.ts';

/**
 * `output.compat.lora_manager: true`: ComfyUI-Lora-Manager's `{model_name}.metadata.json` for
 * each identified file, merged so LM's and the user's keys survive. A file that is not a JSON
 * object is left alone (with a warning); a failed write is a warning, never a failed model.
 */
export async function writeLoraManagerSidecars(ctx: RunContext): Promise<void> {
  if (!ctx.job.output.compat.lora_manager || ctx.dryRun) return;
  let written = 0;
  for (const [index, record] of ctx.records.entries()) {
    const item = ctx.items[index];
    if (!item || record.civitai.status !== 'identified' || !record.version) continue;
    const file = loraManagerPath(item.layout.compatDir, record.file.stem);
    const existing = await readLoraManagerMetadata(file);
    if (existing === false) {
      ctx.report.warn(record.file.path, 'sidecars', `${file} is not a JSON object; left untouched`);
      continue;
    }
    try {
      if ((await writeLoraManagerMetadata(file, loraManagerMetadata(record, existing))) === 'written') written += 1;
    } catch (error) {
      ctx.report.warn(record.file.path, 'sidecars', `${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (written > 0) ctx.log.info(`lora-manager: ${written} .metadata.json written`);
}
