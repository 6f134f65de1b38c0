import type { z } from 'zod';
import type { ApiConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { CivitaiRequestError, HttpClient, type HttpStats, type JsonResponse } from './http.ts';
import {
  ErrorBodySchema,
  ImageListSchema,
  ModelListSchema,
  ModelSchema,
  ModelVersionSchema,
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

export function createCivitaiClient(api: ApiConfig, options: { logger?: Logger; sleep?: (ms: number) => Promise<void> } = {}): CivitaiClient {
  const baseUrl = api.base_url.replace(/\/+$/, '');
  const http = new HttpClient({
    apiBaseUrl: baseUrl,
    apiKey: api.key,
    userAgent: api.user_agent,
    timeoutMs: api.timeout * 1000,
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

  return {
    stats: http.stats,

    async getVersionByHash(hash) {
      const target = url(`/model-versions/by-hash/${encodeURIComponent(hash)}`);
      const response = await http.requestJson('GET', target);
      return lookup(response, target, ModelVersionSchema);
    },

    async getVersionsBySha256(hashes) {
      const versions: ModelVersion[] = [];
      for (let start = 0; start < hashes.length; start += BY_HASH_BATCH_SIZE) {
        const chunk = hashes.slice(start, start + BY_HASH_BATCH_SIZE);
        const target = url('/model-versions/by-hash');
        const response = await http.requestJson('POST', target, chunk);
        const body = expectOk(response, target);
        if (!Array.isArray(body)) throw badShape(target, 'expected an array of model versions');
        for (const item of body) {
          // A version without a primary file comes back as null; skip it.
          if (item === null) continue;
          versions.push(parseOrThrow(ModelVersionSchema, item, target));
        }
      }
      return versions;
    },

    async getModel(id) {
      const target = url(`/models/${id}`);
      const response = await http.requestJson('GET', target);
      return lookup(response, target, ModelSchema);
    },

    async getModels(ids) {
      const models: Model[] = [];
      for (let start = 0; start < ids.length; start += MODELS_BATCH_SIZE) {
        const chunk = ids.slice(start, start + MODELS_BATCH_SIZE);
        const params = new URLSearchParams({ ids: chunk.join(','), limit: String(chunk.length), nsfw: 'true' });
        const target = url(`/models?${params}`);
        const response = await http.requestJson('GET', target);
        models.push(...parseOrThrow(ModelListSchema, expectOk(response, target), target).items);
      }
      return models;
    },

    async getImages(query) {
      const params = new URLSearchParams({ modelVersionId: String(query.modelVersionId), withMeta: 'true' });
      if (query.nsfw !== undefined) params.set('nsfw', query.nsfw);
      if (query.limit !== undefined) params.set('limit', String(query.limit));
      const target = url(`/images?${params}`);
      const response = await http.requestJson('GET', target);
      return parseOrThrow(ImageListSchema, expectOk(response, target), target);
    },

    async download(fileUrl) {
      const response = await http.download(fileUrl);
      return { bytes: response.bytes, contentType: response.contentType };
    },
  };
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
