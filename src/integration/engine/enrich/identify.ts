import { CivitaiRequestError, type CivitaiClient } from '../civitai/client.ts';
import type { Model, ModelVersion } from '../civitai/schemas.ts';
import type { SourceName } from '../config/schema.ts';

export type Identification =
  | {
      status: 'identified';
      version: ModelVersion;
      /** Which source answered (absent: rebuilt from what an earlier run stored). */
      source?: SourceName;
      /** The parent model, when the source has it at hand (the archives). */
      model?: Model;
      /** Linked by hand (`civitscraper link`), not found by hash. */
      linked?: boolean;
      /** CivitAI answered for it before and now answers 404: kept from the sidecar. */
      removedFromCivitai?: boolean;
    }
  | { status: 'not-found' }
  | { status: 'unknown'; error: string };

/**
 * Looks SHA-256 hashes up in batches of 100 (POST /model-versions/by-hash) and matches the
 * answers back by `files[].hashes.SHA256`: the batch drops misses and does not keep order.
 * A batch the server rejects outright (an older API or a proxy without the route) falls back
 * to one GET per hash; a batch that fails after retries leaves its hashes `unknown`, never
 * `not-found`.
 */
export async function identifyBySha256(
  client: CivitaiClient,
  sha256s: readonly string[],
): Promise<Map<string, Identification>> {
  const results = new Map<string, Identification>();
  const wanted = [...new Set(sha256s.map((hash) => hash.toUpperCase()))];
  for (let start = 0; start < wanted.length; start += 100) {
    const chunk = wanted.slice(start, start + 100);
    let versions: ModelVersion[];
    try {
      versions = await client.getVersionsBySha256(chunk);
    } catch (error) {
      if (batchUnsupported(error)) {
        await identifyOneByOne(client, chunk, results);
        continue;
      }
      for (const hash of chunk) results.set(hash, { status: 'unknown', error: messageOf(error) });
      continue;
    }
    const byHash = new Map<string, ModelVersion>();
    for (const version of versions) {
      for (const file of version.files ?? []) {
        const sha = file.hashes?.SHA256?.toUpperCase();
        if (sha && !byHash.has(sha)) byHash.set(sha, version);
      }
    }
    for (const hash of chunk) {
      const version = byHash.get(hash);
      results.set(hash, version ? { status: 'identified', version } : { status: 'not-found' });
    }
  }
  return results;
}

async function identifyOneByOne(
  client: CivitaiClient,
  hashes: readonly string[],
  results: Map<string, Identification>,
): Promise<void> {
  await Promise.all(
    hashes.map(async (hash) => {
      try {
        const answer = await client.getVersionByHash(hash);
        results.set(hash, answer.found ? { status: 'identified', version: answer.value } : { status: 'not-found' });
      } catch (error) {
        results.set(hash, { status: 'unknown', error: messageOf(error) });
      }
    }),
  );
}

function batchUnsupported(error: unknown): boolean {
  return (
    error instanceof CivitaiRequestError &&
    error.kind === 'http' &&
    error.status !== undefined &&
    [400, 404, 405, 501].includes(error.status)
  );
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
