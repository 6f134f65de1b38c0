import type { CivitaiClient } from '../civitai/client.ts';
import { identifyBySha256 } from '../enrich/identify.ts';
import type { IdentifySource, SourceAnswer, SourceName } from './types.ts';

/** The CivitAI API (api.base_url, or civitai.red): the batch by-hash endpoint, parents asked later. */
export function civitaiSource(name: Extract<SourceName, 'civitai' | 'civitai_red'>, client: CivitaiClient): IdentifySource {
  return {
    name,
    local: false,
    async lookup(sha256s) {
      const answers = await identifyBySha256(client, sha256s);
      const out = new Map<string, SourceAnswer>();
      for (const [hash, answer] of answers) out.set(hash, answer);
      return out;
    },
  };
}
