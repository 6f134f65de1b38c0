import { fetchParentModels } from '../enrich/parents.ts';
import type { CivitaiClient } from '../civitai/client.ts';
import type { Model } from '../civitai/schemas.ts';
import type { RunContext, WorkItem } from '../run.ts';
import { slimModel } from '../sidecars/metadata.ts';
import { keepFileFacts } from '../updates/rules.ts';

/**
 * The parent model of each version looked up in this run, asked once per model id. A source
 * that brought the parent along (the archives) or data kept from an earlier run needs no call.
 */
export async function enrichParents(ctx: RunContext): Promise<void> {
  const identified = ctx.toLookUp.filter((item) => item.identification?.status === 'identified' && item.version?.modelId);
  const slim = slimmer();
  const needParents = identified.filter((item) => {
    const identification = item.identification;
    if (identification?.status !== 'identified' || !identification.model) return true;
    item.model = slim(identification.model);
    return false;
  });
  // A version civitai.red answered for is asked about there (some models answer only there).
  const onRed = (item: (typeof needParents)[number]) => item.identification?.status === 'identified' && item.identification.source === 'civitai_red' && ctx.sources.redClient;
  // `sources.civitai.enabled: false` sends CivitAI nothing, parent models included: a version an
  // archive answered for without its model stays without one.
  const civitai = ctx.config.sources.civitai.enabled ? ctx.client : undefined;
  for (const [client, group] of [
    [civitai, needParents.filter((item) => !onRed(item))],
    [ctx.sources.redClient, needParents.filter(onRed)],
  ] as const) {
    if (client && group.length > 0) await enrichGroup(client, group, slim);
  }
}

/**
 * The slim body of each parent model, made once and shared by its versions (as a rerun's
 * records from stamps share theirs): they held one copy each, a few KB to 100 KB, and what is
 * derived from the body (the A1111 description's plain text) is worked out once per model.
 */
function slimmer(): (model: Model) => Model {
  const made = new Map<Model, Model>();
  return (model) => {
    let slim = made.get(model);
    if (!slim) made.set(model, (slim = keepFileFacts(slimModel(model), model)));
    return slim;
  };
}

async function enrichGroup(client: CivitaiClient, needParents: WorkItem[], slim: (model: Model) => Model): Promise<void> {
  const parents = await fetchParentModels(
    client,
    needParents.map((item) => item.version?.modelId as number),
  );
  for (const item of needParents) {
    const modelId = item.version?.modelId as number;
    const model = parents.models.get(modelId);
    const stored = item.sidecar.kind === 'own' ? item.sidecar.stored.model : undefined;
    // The files' metadata stays: the update radar tells variants (fp8, pruned, CKPT) by it.
    if (model) item.model = slim(model);
    // A failed lookup keeps what an earlier run stored (a 404 means deleted: keep that too).
    else if (stored?.id === modelId) {
      item.model = stored;
      if (parents.missing.has(modelId) && item.identification?.status === 'identified') item.identification.removedFromCivitai = true;
    }
    const failure = parents.failed.get(modelId);
    if (failure) {
      item.problems.push({ stage: 'enrich', message: `parent model ${modelId}: ${failure}` });
      item.incomplete = true;
    }
  }
}
