/**
 * CivitAI answered inside the engine's own process, without HTTP: for runs that measure or test
 * the engine at scale (bench/scale.ts, test/perf/scale-child.ts), where a server would be what
 * is measured. Every known hash is a version of its own, with a body copied from the fixtures'
 * versions (their images too); models come from the fixtures too. Downloads answer with
 * `image` when one is given, and fail otherwise.
 */
import { Catalog } from './catalog.ts';

export interface InProcessCivitaiOptions {
  /** How many fixture version bodies to copy from. */
  templates: number;
  /** How many fixture models to answer parent lookups with (default: all). */
  models?: number;
  /** The parent model id of a version id. */
  modelIdOf: (versionId: number) => number;
  /** Whether CivitAI knows this SHA-256 (default: every one). */
  known?: (sha256: string) => boolean;
  /** Also AutoV2, AutoV3 and CRC32 in the answer's file hashes, as CivitAI sends them. */
  allHashes?: boolean;
  /** What every image download answers with (a JPEG). */
  image?: Buffer;
}

/** A stand-in for the engine's CivitAI client (pass it as `client`), counting its requests. */
export function inProcessCivitai(options: InProcessCivitaiOptions) {
  const catalog = new Catalog();
  const templates = catalog
    .allVersionIds()
    .map((id) => catalog.versionBody(id))
    .filter((body): body is NonNullable<typeof body> => body !== undefined)
    .slice(0, options.templates);
  const models = catalog
    .allVersionIds()
    .map((id) => catalog.modelOf(id))
    .filter((model) => model !== undefined)
    .slice(0, options.models);
  const stats = { apiRequests: 0, downloadRequests: 0, retries: 0, throttled: 0, shortCircuited: 0, downloadedBytes: 0 };
  const idOf = (sha: string) => (Number.parseInt(sha.slice(0, 8), 16) % 900_000_000) + 1;
  const modelBody = (id: number) => ({ ...(models[id % models.length] as Record<string, unknown>), id });
  return {
    stats,
    async getVersionsBySha256(hashes: readonly string[]) {
      stats.apiRequests += 1;
      return hashes
        .filter((sha) => options.known?.(sha) ?? true)
        .map((sha) => {
          const id = idOf(sha);
          const template = templates[id % templates.length] as Record<string, unknown>;
          const files = (template.files as Record<string, unknown>[] | undefined) ?? [];
          const upper = sha.toUpperCase();
          const hashes = options.allHashes
            ? { SHA256: upper, AutoV2: upper.slice(0, 10), AutoV3: upper.slice(20, 32), CRC32: upper.slice(40, 48) }
            : { SHA256: upper };
          const primary = { ...(files[0] ?? {}), name: 'model.safetensors', sizeKB: 0.2, primary: true, hashes };
          return { ...template, id, modelId: options.modelIdOf(id), files: [primary] };
        });
    },
    async getVersionByHash() {
      stats.apiRequests += 1;
      return { found: false };
    },
    async getModels(ids: readonly number[]) {
      stats.apiRequests += 1;
      return ids.map(modelBody);
    },
    async getModel(id: number) {
      stats.apiRequests += 1;
      return { found: true, value: modelBody(id) };
    },
    async getImages() {
      return { items: [] };
    },
    async download(): Promise<{ bytes: Buffer; contentType: string }> {
      if (!options.image) throw new Error('no downloads in an in-process run');
      stats.downloadRequests += 1;
      stats.downloadedBytes += options.image.length;
      return { bytes: options.image, contentType: 'image/jpeg' };
    },
  };
}
