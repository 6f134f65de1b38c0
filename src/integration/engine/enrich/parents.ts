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
 * How long a parent model's answer is trusted by the update check (`civitscraper updates`):
 * a day, as ComfyUI-Lora-Manager does (a 5,000-model library costs about 50 requests a day at
 * most), or `scanner.cache_validity` when that is shorter. Scans use `scanner.cache_validity`
 * (24 h by default) for the same answers.
 */
export const UPDATE_CHECK_TTL_SECONDS = 24 * 60 * 60;

/**
 * Fetches each parent model once per run: `GET /models?ids=` in pages of 100, then
 * `GET /models/:id` for any id the list did not return (the list hides some models that the
 * detail route still serves). Answers go through the client's cache (a page is only asked for
 * the ids it does not hold). A failure is never an answer: the ids it hit are in `failed`, so
 * callers keep what they knew (a known update stays known).
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
