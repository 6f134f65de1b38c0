import { LRUCache } from 'lru-cache';
import type { z } from 'zod';
import type { ApiConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { CivitaiRequestError, HttpClient, redactUrl, type HttpStats, type JsonResponse } from './http.ts';
import {
  capApiText,
  ErrorBodySchema,
  ImageListSchema,
  ModelListSchema,
  ModelSchema,
  ModelVersionSchema,
  type ApiBodyKind,
  type ImageList,
  type Model,
  type ModelVersion,
} from './schemas.ts';

export { CivitaiRequestError };

/** POST /model-versions/by-hash takes at most this many hashes. */
export const BY_HASH_BATCH_SIZE = 100;
/** GET /models?ids= pages of this size. */
export const MODELS_BATCH_SIZE = 100;

export type LookupResult<T> = { found: true; value: T } | { found: false };

export interface CivitaiClient {
  readonly stats: HttpStats;
  getVersionByHash(hash: string): Promise<LookupResult<ModelVersion>>;
  /** Batch lookup by SHA-256; unmatched hashes are simply absent from the result. */
  getVersionsBySha256(hashes: readonly string[]): Promise<ModelVersion[]>;
  getModel(id: number): Promise<LookupResult<Model>>;
  getModels(ids: readonly number[]): Promise<Model[]>;
  getImages(query: { modelVersionId: number; nsfw?: string; limit?: number }): Promise<ImageList>;
  download(url: string): Promise<{ bytes: Buffer; contentType: string }>;
}

/** Where answers are kept between runs (the state store's HTTP cache fits). */
export interface ResponseStore {
  get(key: string, maxAgeSeconds: number): { status: number; body: string } | undefined;
  set(key: string, value: { status: number; body: string }): void;
  /** The entries of one batch answer together (one transaction); without it, `set` each. */
  setMany?(entries: readonly { key: string; value: { status: number; body: string } }[]): void;
}

export interface ClientCacheOptions {
  store: ResponseStore;
  /** `scanner.cache_validity`. */
  maxAgeSeconds: number;
  /** `--force-refresh`: ask again (answers are still stored for next time). */
  bypass: boolean;
}

/** Limits below the config's (tests use small ones); defaults in http.ts. */
export interface ClientLimits {
  /** No body byte for this long fails a request (default: derived from `api.timeout`). */
  idleTimeoutMs?: number;
  maxDownloadBytes?: number;
  maxJsonBytes?: number;
}

export function createCivitaiClient(
  api: ApiConfig,
  options: {
    logger?: Logger;
    sleep?: (ms: number) => Promise<void>;
    cache?: ClientCacheOptions;
    /** Cancels requests in flight and refuses new ones (see HttpOptions.signal). */
    signal?: AbortSignal;
    limits?: ClientLimits;
  } = {},
): CivitaiClient {
  const baseUrl = api.base_url.replace(/\/+$/, '');
  const cache = createTwoLevelCache(options.cache, api.batch.cache_size);
  const http = new HttpClient({
    apiBaseUrl: baseUrl,
    apiKey: api.key,
    userAgent: api.user_agent,
    // `api.timeout` bounds the whole exchange, body included.
    timeoutMs: api.timeout * 1000,
    ...options.limits,
    ...(options.signal ? { signal: options.signal } : {}),
    maxRetries: api.max_retries,
    retryDelayMs: api.batch.retry_delay,
    requestsPerMinute: api.batch.rate_limit,
    maxConcurrent: api.batch.max_concurrent,
    breakerThreshold: api.batch.circuit_breaker.failure_threshold,
    breakerResetMs: api.batch.circuit_breaker.reset_timeout * 1000,
    logger: options.logger,
    sleep: options.sleep,
  });
  const url = (path: string) => `${baseUrl}${path}`;

  /** Oversize text reported once per owner and field (the same body may come several times). */
  const warned = new Set<string>();
  /** Caps the text of a body (in place), says so in one warning per model or version, and tells whether anything was cut. */
  const capText = (json: unknown, kind: ApiBodyKind, target: string): boolean => {
    const cut = capApiText(json, kind);
    const fresh = cut.filter((entry) => !warned.has(`${entry.owner}\0${entry.field}`));
    for (const [owner, entries] of Map.groupBy(fresh, (entry) => entry.owner)) {
      for (const entry of entries) warned.add(`${owner}\0${entry.field}`);
      const fields = entries.slice(0, 5).map((entry) => `${entry.field} (${entry.length} characters, kept ${entry.kept})`);
      if (entries.length > 5) fields.push(`and ${entries.length - 5} more`);
      options.logger?.warn(`CivitAI sent oversize text for ${owner}: truncated ${fields.join('; ')} (${redactUrl(target)})`);
    }
    return cut.length > 0;
  };
  /** Every API answer from the network, capped before anything caches or parses it. */
  const requestJson = async (method: 'GET' | 'POST', target: string, kind: ApiBodyKind, body?: unknown): Promise<JsonResponse> => {
    const response = await http.requestJson(method, target, body);
    if (response.json !== undefined && capText(response.json, kind, target)) response.text = JSON.stringify(response.json);
    return response;
  };
  /** A cached body (an older run may have stored it before text was capped). */
  const cached = (key: string, kind: ApiBodyKind): { status: number; json: unknown; text: string } | undefined => {
    const hit = cache.get(key);
    if (!hit) return undefined;
    const json: unknown = JSON.parse(hit.body);
    return { status: hit.status, json, text: capText(json, kind, key) ? JSON.stringify(json) : hit.body };
  };

  /** GET through the cache: successful answers and JSON 404s are kept, failures never. */
  const getJson = async (target: string, kind: ApiBodyKind): Promise<JsonResponse> => {
    const key = `GET ${target}`;
    const hit = cached(key, kind);
    if (hit) return { ...hit, contentType: 'application/json' };
    const response = await requestJson('GET', target, kind);
    if (response.json !== undefined && ((response.status >= 200 && response.status < 300) || response.status === 404)) {
      cache.set(key, { status: response.status, body: response.text });
    }
    return response;
  };

  return {
    stats: http.stats,

    async getVersionByHash(hash) {
      const target = url(`/model-versions/by-hash/${encodeURIComponent(hash)}`);
      const response = await getJson(target, 'version');
      return lookup(response, target, ModelVersionSchema);
    },

    async getVersionsBySha256(hashes) {
      const versions: ModelVersion[] = [];
      // Answers cached per hash, so a batch only asks for what is not known yet.
      const unknown: string[] = [];
      for (const hash of hashes) {
        const hit = cached(`version-by-sha256 ${hash.toUpperCase()}`, 'version');
        if (hit) versions.push(parseOrThrow(ModelVersionSchema, hit.json, 'cache'));
        else unknown.push(hash);
      }
      const target = url('/model-versions/by-hash');
      const ask = async (chunk: readonly string[]): Promise<void> => {
        const response = await requestJson('POST', target, 'version', chunk);
        const body = expectOk(response, target);
        if (!Array.isArray(body)) throw badShape(target, 'expected an array of model versions');
        const answers: CacheEntry[] = [];
        for (const item of body) {
          // A version without a primary file comes back as null; skip it.
          if (item === null) continue;
          const version = parseOrThrow(ModelVersionSchema, item, target);
          versions.push(version);
          for (const file of version.files ?? []) {
            const sha = file.hashes?.SHA256?.toUpperCase();
            if (sha && chunk.some((hash) => hash.toUpperCase() === sha)) {
              answers.push({ key: `version-by-sha256 ${sha}`, value: { status: 200, body: JSON.stringify(item) } });
            }
          }
        }
        cache.setMany(answers);
      };
      for (let start = 0; start < unknown.length; start += BY_HASH_BATCH_SIZE) {
        await inHalvesWhenTooLarge(unknown.slice(start, start + BY_HASH_BATCH_SIZE), ask);
      }
      return versions;
    },

    async getModel(id) {
      const target = url(`/models/${id}`);
      const response = await getJson(target, 'model');
      return lookup(response, target, ModelSchema);
    },

    async getModels(ids) {
      const models: Model[] = [];
      const unknown: number[] = [];
      for (const id of ids) {
        const hit = cached(`GET ${url(`/models/${id}`)}`, 'model');
        if (hit?.status === 200) models.push(parseOrThrow(ModelSchema, hit.json, 'cache'));
        // A stored 404 (a deleted model) is not asked in a page again: getModel answers it from the cache.
        else if (hit?.status !== 404) unknown.push(id);
      }
      const ask = async (chunk: readonly number[]): Promise<void> => {
        const params = new URLSearchParams({ ids: chunk.join(','), limit: String(chunk.length), nsfw: 'true' });
        const target = url(`/models?${params}`);
        const response = await requestJson('GET', target, 'model');
        const list = parseOrThrow(ModelListSchema, expectOk(response, target), target);
        const raw = (response.json as { items: unknown[] }).items;
        // Kept as if fetched one by one, so a later run finds each model on its own.
        cache.setMany(list.items.map((model, index) => ({ key: `GET ${url(`/models/${model.id}`)}`, value: { status: 200, body: JSON.stringify(raw[index]) } })));
        models.push(...list.items);
      };
      for (let start = 0; start < unknown.length; start += MODELS_BATCH_SIZE) {
        await inHalvesWhenTooLarge(unknown.slice(start, start + MODELS_BATCH_SIZE), ask);
      }
      return models;
    },

    async getImages(query) {
      const params = new URLSearchParams({ modelVersionId: String(query.modelVersionId), withMeta: 'true' });
      if (query.nsfw !== undefined) params.set('nsfw', query.nsfw);
      if (query.limit !== undefined) params.set('limit', String(query.limit));
      const target = url(`/images?${params}`);
      const response = await getJson(target, 'image');
      return parseOrThrow(ImageListSchema, expectOk(response, target), target);
    },

    async download(fileUrl) {
      const response = await http.download(fileUrl);
      return { bytes: response.bytes, contentType: response.contentType };
    },
  };
}

/**
 * Asks for a batch; an answer past the JSON cap (huge bodies, many of them) is asked again in
 * halves. A single item still too large fails the batch: leaving it out would read as "not found".
 */
async function inHalvesWhenTooLarge<T>(chunk: readonly T[], ask: (part: readonly T[]) => Promise<void>): Promise<void> {
  try {
    await ask(chunk);
  } catch (error) {
    if (!(error instanceof CivitaiRequestError && error.kind === 'too-large') || chunk.length < 2) throw error;
    const middle = Math.ceil(chunk.length / 2);
    await inHalvesWhenTooLarge(chunk.slice(0, middle), ask);
    await inHalvesWhenTooLarge(chunk.slice(middle), ask);
  }
}

/**
 * An LRU of recent answers in front of the persistent store: a run asks the disk once per key
 * at most, and a bypass (force refresh) skips both while still storing new answers.
 */
function createTwoLevelCache(options: ClientCacheOptions | undefined, memoryEntries: number) {
  const memory = new LRUCache<string, { status: number; body: string }>({ max: Math.max(1, memoryEntries) });
  return {
    get(key: string): { status: number; body: string } | undefined {
      if (!options || options.bypass) return undefined;
      const hot = memory.get(key);
      if (hot) return hot;
      const stored = options.store.get(key, options.maxAgeSeconds);
      if (stored) memory.set(key, { status: stored.status, body: stored.body });
      return stored;
    },
    set(key: string, value: { status: number; body: string }): void {
      if (!options) return;
      memory.set(key, value);
      options.store.set(key, value);
    },
    setMany(entries: readonly CacheEntry[]): void {
      if (!options || entries.length === 0) return;
      for (const { key, value } of entries) memory.set(key, value);
      const { store } = options;
      if (store.setMany) store.setMany(entries);
      else for (const { key, value } of entries) store.set(key, value);
    },
  };
}

interface CacheEntry {
  key: string;
  value: { status: number; body: string };
}

/**
 * Only a JSON 404 from the API itself means "not on CivitAI". An HTML 404 is a wrong route
 * (a bad api.base_url) and must not turn a whole library into "not found".
 */
function lookup<T>(response: JsonResponse, target: string, schema: z.ZodType<T>): LookupResult<T> {
  if (response.status === 404 && response.json !== undefined) return { found: false };
  return { found: true, value: parseOrThrow(schema, expectOk(response, target), target) };
}

function expectOk(response: JsonResponse, target: string): unknown {
  if (response.status >= 200 && response.status < 300) return response.json;
  if (response.status === 404 && response.json === undefined) {
    throw new CivitaiRequestError(
      'http',
      target,
      'CivitAI answered 404 with an HTML page: the route does not exist. Check api.base_url (it should end in /api/v1).',
      404,
    );
  }
  const parsed = ErrorBodySchema.safeParse(response.json);
  const detail = parsed.success ? String(parsed.data.error ?? parsed.data.message ?? '') : '';
  const hint = response.status === 401 || response.status === 403 ? ' Check your API key (CIVITAI_API_KEY).' : '';
  throw new CivitaiRequestError(
    'http',
    target,
    `CivitAI answered ${response.status}${detail ? `: ${detail}` : ''}.${hint}`,
    response.status,
  );
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, target: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw badShape(target, `${first?.path.join('.') || 'body'}: ${first?.message ?? 'unexpected shape'}`);
  }
  return parsed.data;
}

function badShape(target: string, detail: string): CivitaiRequestError {
  return new CivitaiRequestError('bad-body', target, `CivitAI sent a body of an unexpected shape (${detail})`);
}

/**
 * A client that never goes online, for work done from sidecars only (the Krita sync, the
 * library report): any request is refused with `reason`, so none can slip out unnoticed.
 */
export function createOfflineClient(reason: string): CivitaiClient {
  const refuse = () => Promise.reject(new Error(reason));
  return {
    stats: { apiRequests: 0, downloadRequests: 0, retries: 0, throttled: 0, shortCircuited: 0, downloadedBytes: 0 },
    getVersionByHash: refuse,
    getVersionsBySha256: refuse,
    getModel: refuse,
    getModels: refuse,
    getImages: refuse,
    download: refuse,
  };
}
