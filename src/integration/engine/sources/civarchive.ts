/**
 * CivArchive (civarchive.com), a mirror that keeps models CivitAI deleted: `GET
 * {base}/sha256/{hash}` answers `{ data: { ...model context, version: {...} } }` or 404. The
 * answer is rebuilt in CivitAI's API shape (version with `model`, `files[].hashes.SHA256`,
 * `trainedWords`; the parent model from the context). No key is sent. A 404 with a JSON body is
 * "not found"; anything else that is not a 200 (5xx, HTML, network, timeout) is a failure.
 */
import { ModelSchema, ModelVersionSchema, type Model, type ModelVersion } from '../civitai/schemas.ts';
import type { HttpStats, JsonResponse } from '../civitai/http.ts';
import type { ApiConfig } from '../config/schema.ts';
import { sourceHttp } from './http.ts';
import type { IdentifySource, SourceAnswer } from './types.ts';

type Row = Record<string, unknown>;

export interface CivarchiveOptions {
  baseUrl: string;
  api: ApiConfig;
  /** Parallel requests (CivArchive caps requests per hour: keep this small). */
  concurrency?: number;
  signal?: AbortSignal;
}

export function civarchiveSource(options: CivarchiveOptions): IdentifySource & { readonly stats: HttpStats } {
  const base = options.baseUrl.replace(/\/+$/, '');
  const http = sourceHttp(options.api, { baseUrl: base, withKey: false, ...(options.signal ? { signal: options.signal } : {}) });
  const one = async (hash: string): Promise<SourceAnswer> => {
    const target = `${base}/sha256/${hash.toLowerCase()}`;
    let answer: JsonResponse;
    try {
      answer = await http.requestJson('GET', target);
    } catch (error) {
      return { status: 'unknown', error: `CivArchive ${target}: ${error instanceof Error ? error.message : String(error)}` };
    }
    const { status, json } = answer;
    if (status === 404 && json !== undefined) return { status: 'not-found' };
    if (status !== 200 || json === undefined) {
      return { status: 'unknown', error: `CivArchive answered ${status}${json === undefined ? ' without JSON' : ''} (${target})` };
    }
    const rebuilt = fromCivarchive(json, hash);
    return rebuilt ? { status: 'identified', ...rebuilt } : { status: 'unknown', error: `CivArchive sent a body of an unexpected shape (${target})` };
  };
  return {
    name: 'civarchive',
    local: false,
    // Every request sent (each retry counts), as for CivitAI: the run report adds them up.
    stats: http.stats,
    async lookup(sha256s) {
      const out = new Map<string, SourceAnswer>();
      const queue = [...sha256s];
      const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 2, queue.length)) }, async () => {
        for (let hash = queue.shift(); hash !== undefined; hash = queue.shift()) out.set(hash, await one(hash));
      });
      await Promise.all(workers);
      return out;
    },
  };
}

/** CivArchive's body → CivitAI's shapes; undefined when it has no version. */
export function fromCivarchive(payload: unknown, sha256: string): { version: ModelVersion; model?: Model } | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const top = payload as Row;
  const data = (top.data && typeof top.data === 'object' ? top.data : top) as Row;
  const context: Row = {};
  for (const [key, value] of Object.entries(data)) if (key !== 'version' && key !== 'model') context[key] = value;
  let version = (data.version && typeof data.version === 'object' ? data.version : undefined) as Row | undefined;
  const modelBlock = (data.model && typeof data.model === 'object' ? data.model : undefined) as Row | undefined;
  if (modelBlock) {
    for (const [key, value] of Object.entries(modelBlock)) {
      if (key === 'version') version ??= value as Row;
      else if (!(key in context)) context[key] = value;
    }
  }
  if (!version) return undefined;
  const body: Row = { ...version };
  delete body.creator;
  if ('trigger' in body) {
    const trigger = body.trigger;
    delete body.trigger;
    body.trainedWords = Array.isArray(trigger) ? trigger : trigger == null ? [] : [trigger];
  }
  if (typeof body.trainedWords === 'string') body.trainedWords = [body.trainedWords];
  if ('nsfw_level' in body) {
    body.nsfwLevel = body.nsfw_level;
    delete body.nsfw_level;
  }
  const stats: Row = {};
  for (const key of ['downloadCount', 'ratingCount', 'rating', 'thumbsUpCount']) {
    if (key in body) {
      stats[key] = body[key];
      delete body[key];
    }
  }
  if (Object.keys(stats).length > 0) body.stats = stats;
  const rawFiles = (Array.isArray(body.files) ? body.files : Array.isArray(data.files) ? data.files : []) as Row[];
  body.files = rawFiles.filter((file) => file && typeof file === 'object').map((file) => {
    const mirrors = Array.isArray(file.mirrors) ? (file.mirrors as Row[]) : [];
    const mirror = mirrors.find((entry) => entry && entry.deletedAt == null);
    return {
      ...(file.id != null ? { id: file.id } : {}),
      ...(file.sizeKB != null ? { sizeKB: file.sizeKB } : {}),
      name: file.name ?? mirror?.filename ?? '',
      type: file.type ?? 'Model',
      primary: true,
      ...(file.downloadUrl ?? mirror?.url ? { downloadUrl: file.downloadUrl ?? mirror?.url } : {}),
      hashes: file.sha256 ? { SHA256: String(file.sha256).toUpperCase() } : ((file.hashes as Row | undefined) ?? {}),
    };
  });
  const files = body.files as Row[];
  if (!files.some((file) => String((file.hashes as Row).SHA256 ?? '').toUpperCase() === sha256.toUpperCase())) {
    files.push({ name: '', type: 'Model', primary: true, hashes: { SHA256: sha256.toUpperCase() } });
  }
  if (!Array.isArray(body.images)) body.images = [];
  const modelId = Number(body.modelId ?? context.id);
  if (Number.isFinite(modelId)) body.modelId = modelId;
  const tags = Array.isArray(context.tags) ? context.tags : [];
  body.model = { name: context.name, type: context.type, nsfw: Boolean(context.is_nsfw ?? context.nsfw ?? false) };
  const parsed = ModelVersionSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const model = ModelSchema.safeParse({
    id: modelId,
    name: context.name,
    type: context.type,
    description: context.description,
    nsfw: Boolean(context.is_nsfw ?? context.nsfw ?? false),
    tags,
    creator: { username: context.creator_username ?? context.username ?? undefined },
    modelVersions: Array.isArray(context.versions)
      ? (context.versions as Row[]).filter((entry) => entry && typeof entry.id === 'number').map((entry) => ({ id: entry.id, name: entry.name ?? '' }))
      : [{ id: parsed.data.id, name: parsed.data.name ?? '', baseModel: parsed.data.baseModel }],
  });
  return { version: parsed.data, ...(model.success && Number.isFinite(modelId) ? { model: model.data } : {}) };
}
