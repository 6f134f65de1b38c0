import type { CivitaiClient } from '../civitai/client.ts';
import type { Model } from '../civitai/schemas.ts';
import { messageOf } from './identify.ts';

export interface ParentModels {
  models: Map<number, Model>;
  /** Model ids CivitAI answered 404 for (deleted or hidden from the REST browse path). */
  missing: Set<number>;
  /** Model ids whose lookup failed; the versions keep what they had. */
  failed: Map<number, string>;
}

/**
 * Fetches each parent model once per run: `GET /models?ids=` in pages of 100, then
 * `GET /models/:id` for any id the list did not return (the list hides some models that the
 * detail route still serves).
 */
export async function fetchParentModels(client: CivitaiClient, ids: Iterable<number>): Promise<ParentModels> {
  const wanted = [...new Set(ids)].sort((a, b) => a - b);
  const result: ParentModels = { models: new Map(), missing: new Set(), failed: new Map() };
  if (wanted.length === 0) return result;
  try {
    for (const model of await client.getModels(wanted)) result.models.set(model.id, model);
  } catch (error) {
    // Fall through: every id is retried one by one below.
    void error;
  }
  await Promise.all(
    wanted
      .filter((id) => !result.models.has(id))
      .map(async (id) => {
        try {
          const answer = await client.getModel(id);
          if (answer.found) result.models.set(id, answer.value);
          else result.missing.add(id);
        } catch (error) {
          result.failed.set(id, messageOf(error));
        }
      }),
  );
  return result;
}
