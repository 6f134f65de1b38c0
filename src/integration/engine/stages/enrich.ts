import { fetchParentModels } from '../enrich/parents.ts';
import type { RunContext } from '../run.ts';
import { slimModel } from '../sidecars/metadata.ts';

/** The parent model of each version looked up in this run, asked once per model id. */
export async function enrichParents(ctx: RunContext): Promise<void> {
  const needParents = ctx.toLookUp.filter((item) => item.identification?.status === 'identified' && item.version?.modelId);
  const parents = await fetchParentModels(
    ctx.client,
    needParents.map((item) => item.version?.modelId as number),
  );
  for (const item of needParents) {
    const modelId = item.version?.modelId as number;
    const model = parents.models.get(modelId);
    const stored = item.sidecar.kind === 'own' ? item.sidecar.stored.model : undefined;
    if (model) item.model = slimModel(model);
    // A failed lookup keeps what an earlier run stored (a 404 means deleted: keep that too).
    else if (stored?.id === modelId) item.model = stored;
    const failure = parents.failed.get(modelId);
    if (failure) {
      item.problems.push({ stage: 'enrich', message: `parent model ${modelId}: ${failure}` });
      item.incomplete = true;
    }
  }
}
