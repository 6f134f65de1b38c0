/**
 * What the fake CivitAI knows: the recorded bodies in src/dev/fixtures/civitai/, indexed by
 * model id, version id and every recorded file hash, with chosen versions re-keyed to local
 * sample files (their primary file takes the local file's hashes and size).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CivitaiHashes } from './hashes.ts';

export const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL('../fixtures/civitai/', import.meta.url));

export interface RawFile {
  id?: number;
  name?: string;
  sizeKB?: number;
  type?: string;
  primary?: boolean;
  hashes?: Record<string, string>;
  [key: string]: unknown;
}

export interface RawImage {
  url: string;
  id?: number;
  nsfwLevel?: number | string;
  nsfw?: boolean | string;
  width?: number;
  height?: number;
  hash?: string;
  type?: string;
  meta?: unknown;
  postId?: number;
  [key: string]: unknown;
}

export interface RawVersion {
  id: number;
  modelId?: number;
  name?: string;
  nsfwLevel?: number;
  createdAt?: string;
  updatedAt?: string;
  publishedAt?: string;
  status?: string;
  baseModel?: string;
  baseModelType?: string | null;
  description?: string | null;
  trainedWords?: string[];
  stats?: Record<string, unknown>;
  model?: { name?: string; type?: string; nsfw?: boolean; poi?: boolean; mode?: string };
  files?: RawFile[];
  images?: RawImage[];
  downloadUrl?: string;
  [key: string]: unknown;
}

export interface RawModel {
  id: number;
  name?: string;
  type?: string;
  nsfw?: boolean;
  poi?: boolean;
  mode?: string;
  creator?: { username?: string; image?: string | null };
  modelVersions?: RawVersion[];
  [key: string]: unknown;
}

/** A local file standing in for a recorded version's primary file. */
export interface CatalogBinding {
  sha256: string;
  size: number;
  /** Hash types to publish; SHA256 and AutoV2 are derived from `sha256` when missing. */
  hashes?: CivitaiHashes;
  versionId: number;
}

export interface MediaInfo {
  type: 'image' | 'video';
  width: number;
  height: number;
}

interface Capture {
  version: RawVersion;
  model: RawModel;
}

/**
 * A version added to a recorded model (update checks need versions the recordings lack: early
 * access, paid, other base models, variants). It is a copy of one of the model's recorded
 * versions (`like`: files, images, stats in the real shape) with `version`'s fields put over
 * it; its files get hashes of their own. Placed in the model's list by `publishedAt`, newest
 * first, as CivitAI lists them.
 */
export interface ExtraVersion {
  modelId: number;
  like: number;
  version: Partial<RawVersion> & { id: number };
}

/** Emitted key order of `files[].hashes` in recent bodies. */
const HASH_KEY_ORDER = ['AutoV1', 'AutoV2', 'SHA256', 'CRC32', 'BLAKE3', 'AutoV3'] as const;

const NSFW_STRING_LEVEL: Record<string, number> = { none: 1, soft: 2, mature: 4, x: 8, blocked: 32 };

/** Numeric browsing level of an image in any era's shape (numeric, `None|Soft|…`, or boolean). */
export function imageLevel(image: RawImage): number {
  if (typeof image.nsfwLevel === 'number') return image.nsfwLevel;
  const text = typeof image.nsfwLevel === 'string' ? image.nsfwLevel : typeof image.nsfw === 'string' ? image.nsfw : undefined;
  if (text !== undefined) return NSFW_STRING_LEVEL[text.toLowerCase()] ?? 1;
  if (typeof image.nsfw === 'boolean') return image.nsfw ? 4 : 1;
  return 1;
}

/** The `<uuid>` path segment of a CivitAI image URL (real or rewritten to the fake CDN). */
export function imageUuid(url: string): string | undefined {
  const m = /(?:image(?:cache)?\.civitai\.com|\/cdn)\/[^/]+\/([^/?#"\\]+)/.exec(url);
  return m?.[1];
}

function primaryFile(version: RawVersion): RawFile | undefined {
  const files = version.files ?? [];
  return files.find((f) => f.primary === true) ?? files.find((f) => f.type === 'Model') ?? files[0];
}

function readJson<T>(dir: string, name: string): T {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
}

const ECOSYSTEM: [RegExp, string][] = [
  [/^SD 1/, 'sd1'],
  [/^SD 2/, 'sd2'],
  [/^(SDXL|Pony|Illustrious|NoobAI)/, 'sdxl'],
  [/^Flux/, 'flux1'],
  [/^Hunyuan Video/, 'hyv1'],
];
const AIR_TYPE: Record<string, string> = {
  LORA: 'lora',
  LoCon: 'lycoris',
  TextualInversion: 'embedding',
  Checkpoint: 'checkpoint',
  VAE: 'vae',
  Hypernetwork: 'hypernet',
  Controlnet: 'controlnet',
  AestheticGradient: 'ag',
  Poses: 'other',
};

export class Catalog {
  /** `/models/:id` bodies, first registered (highest priority) wins. */
  readonly models = new Map<number, RawModel>();
  /** Full version bodies (by-hash / by-id shape) as recorded. */
  readonly versionBodies = new Map<number, RawVersion>();
  /** Every capture of a version inside a model body, in priority order. */
  readonly captures = new Map<number, Capture[]>();
  /** Upper-case hash (any type) → version ids. */
  readonly byHash = new Map<string, Set<number>>();
  /** Upper-case SHA256 → version ids (the batch POST searches only this type). */
  readonly bySha256 = new Map<string, Set<number>>();
  /** Image uuid → what the CDN should serve. */
  readonly media = new Map<string, MediaInfo>();
  /** Recorded hashes of primary files that were re-keyed away (they no longer resolve). */
  readonly replacedHashes = new Map<number, Record<string, string>>();
  private readonly rekeyed = new Set<number>();

  constructor(fixturesDir: string = DEFAULT_FIXTURES_DIR, bindings: readonly CatalogBinding[] = [], extras: readonly ExtraVersion[] = []) {
    this.load(fixturesDir);
    for (const extra of extras) this.addVersion(extra);
    for (const binding of bindings) this.rekey(binding);
    this.buildIndexes();
  }

  private load(dir: string): void {
    const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    const byDateDesc = (a: string, b: string): number =>
      (/(\d{4}-\d{2})/.exec(b)?.[1] ?? '').localeCompare(/(\d{4}-\d{2})/.exec(a)?.[1] ?? '') || a.localeCompare(b);

    const modelDetails = names.filter((n) => n.startsWith('models_')).sort();
    const lists = names.filter((n) => n.startsWith('models-list_')).sort(byDateDesc);
    const items = names.filter((n) => n.startsWith('models-item-')).sort();
    const versions = names.filter((n) => /^(wiki-example_)?model-version_/.test(n)).sort();

    for (const n of modelDetails) this.addModel(readJson<RawModel>(dir, n));
    for (const n of lists) for (const m of readJson<{ items: RawModel[] }>(dir, n).items) this.addModel(m);
    for (const n of items) this.addModel(readJson<RawModel>(dir, n));
    for (const n of versions) {
      const body = readJson<RawVersion>(dir, n);
      // model-version_1255556: LoRA Manager added a top-level `creator`; the endpoint has none.
      delete body.creator;
      if (!this.versionBodies.has(body.id)) this.versionBodies.set(body.id, body);
    }

    for (const n of names) {
      const text = readFileSync(join(dir, n), 'utf8');
      for (const m of text.matchAll(/https:\/\/image(?:cache)?\.civitai\.com\/[^/"\\\s]+\/([^/"\\\s]+)/g)) {
        const uuid = m[1];
        if (uuid && !this.media.has(uuid)) this.media.set(uuid, { type: 'image', width: 512, height: 512 });
      }
    }
  }

  private addModel(model: RawModel): void {
    if (!this.models.has(model.id)) this.models.set(model.id, model);
    for (const version of model.modelVersions ?? []) {
      const list = this.captures.get(version.id) ?? [];
      list.push({ version, model });
      this.captures.set(version.id, list);
    }
  }

  private addVersion(extra: ExtraVersion): void {
    const model = this.models.get(extra.modelId);
    const like = model?.modelVersions?.find((version) => version.id === extra.like);
    if (!model || !like) throw new Error(`fake CivitAI: no version ${extra.like} in model ${extra.modelId} to copy`);
    if (this.hasVersion(extra.version.id)) throw new Error(`fake CivitAI: version ${extra.version.id} exists already`);
    const copy: RawVersion = structuredClone(like);
    copy.files = (copy.files ?? []).map((file, index) => {
      const sha256 = createHash('sha256').update(`fake extra version ${extra.version.id} file ${index}`).digest('hex').toUpperCase();
      return { ...file, id: extra.version.id * 10 + index, hashes: { AutoV2: sha256.slice(0, 10), SHA256: sha256 }, downloadUrl: `https://civitai.com/api/download/models/${extra.version.id}` };
    });
    const version: RawVersion = { ...copy, downloadUrl: `https://civitai.com/api/download/models/${extra.version.id}`, ...extra.version };
    const versions = [...(model.modelVersions ?? [])];
    const date = (entry: RawVersion) => entry.publishedAt ?? entry.createdAt ?? '';
    const at = versions.findIndex((entry) => date(entry) < date(version));
    versions.splice(at < 0 ? versions.length : at, 0, version);
    versions.forEach((entry, index) => {
      if ('index' in entry) entry.index = index;
    });
    if ('index' in like && !('index' in version)) version.index = versions.indexOf(version);
    model.modelVersions = versions;
    this.captures.set(version.id, [{ version, model }]);
  }

  /** Every recorded object for a version id (full body first, then model-body captures). */
  versionObjects(versionId: number): RawVersion[] {
    const out: RawVersion[] = [];
    const body = this.versionBodies.get(versionId);
    if (body) out.push(body);
    for (const c of this.captures.get(versionId) ?? []) out.push(c.version);
    return out;
  }

  private rekey(binding: CatalogBinding): void {
    const objects = this.versionObjects(binding.versionId);
    if (objects.length === 0) throw new Error(`fake CivitAI: no version ${binding.versionId} in the fixtures`);
    const given: CivitaiHashes = {
      ...binding.hashes,
      SHA256: binding.sha256.toUpperCase(),
      AutoV2: (binding.hashes?.AutoV2 ?? binding.sha256.slice(0, 10)).toUpperCase(),
    };
    const hashes: Record<string, string> = {};
    for (const key of HASH_KEY_ORDER) {
      const value = given[key];
      if (value) hashes[key] = value.toUpperCase();
    }
    // A version bound a second time gets one more file (as real versions carry pruned/fp16
    // variants), so a test library can be larger than the recorded catalog.
    const again = this.rekeyed.has(binding.versionId);
    this.rekeyed.add(binding.versionId);
    for (const version of objects) {
      const file = primaryFile(version);
      if (!file) throw new Error(`fake CivitAI: version ${binding.versionId} has no file to re-key`);
      if (again) {
        const { primary: _primary, ...variant } = file;
        void _primary;
        version.files = [...(version.files ?? []), { ...variant, hashes: { ...hashes }, sizeKB: binding.size / 1024 }];
        continue;
      }
      if (!this.replacedHashes.has(binding.versionId) && file.hashes) {
        this.replacedHashes.set(binding.versionId, { ...file.hashes });
      }
      file.hashes = { ...hashes };
      file.sizeKB = binding.size / 1024;
    }
  }

  private buildIndexes(): void {
    const add = (map: Map<string, Set<number>>, key: string, id: number): void => {
      const set = map.get(key) ?? new Set<number>();
      set.add(id);
      map.set(key, set);
    };
    const ids = new Set<number>([...this.versionBodies.keys(), ...this.captures.keys()]);
    for (const id of ids) {
      for (const version of this.versionObjects(id)) {
        for (const file of version.files ?? []) {
          for (const [type, value] of Object.entries(file.hashes ?? {})) {
            if (typeof value !== 'string' || !value) continue;
            add(this.byHash, value.toUpperCase(), id);
            if (type === 'SHA256') add(this.bySha256, value.toUpperCase(), id);
          }
        }
        for (const image of version.images ?? []) {
          const uuid = imageUuid(image.url);
          if (!uuid) continue;
          const width = image.width ?? 512;
          const height = image.height ?? 512;
          this.media.set(uuid, { type: image.type === 'video' ? 'video' : 'image', width, height });
        }
      }
    }
  }

  hasVersion(id: number): boolean {
    return this.versionBodies.has(id) || this.captures.has(id);
  }

  /** The parent model body, when one is recorded. */
  modelOf(versionId: number): RawModel | undefined {
    const body = this.versionBodies.get(versionId);
    const capture = this.captures.get(versionId)?.[0];
    const modelId = body?.modelId ?? capture?.model.id;
    return (modelId !== undefined ? this.models.get(modelId) : undefined) ?? capture?.model;
  }

  modelIdOf(versionId: number): number | undefined {
    return this.versionBodies.get(versionId)?.modelId ?? this.captures.get(versionId)?.[0]?.model.id;
  }

  /** Version ids whose files carry this hash, oldest published first (the 2026 server order). */
  lookup(hash: string, sha256Only = false): number[] {
    const set = (sha256Only ? this.bySha256 : this.byHash).get(hash.toUpperCase());
    if (!set) return [];
    const publishedAt = (id: number): string => {
      const v = this.versionObjects(id)[0];
      return v?.publishedAt ?? v?.createdAt ?? '';
    };
    return [...set].sort((a, b) => publishedAt(a).localeCompare(publishedAt(b)) || a - b);
  }

  /**
   * The by-id / by-hash body of a version, unfiltered: the recorded body when there is one,
   * otherwise synthesised from its `/models` summary plus the parent model.
   */
  versionBody(versionId: number): RawVersion | undefined {
    const recorded = this.versionBodies.get(versionId);
    if (recorded) return structuredClone(recorded);
    const capture = this.captures.get(versionId)?.[0];
    if (!capture) return undefined;
    const { version: s, model } = capture;
    const {
      index: _index,
      covered: _covered,
      availability: _availability,
      supportsGeneration: _supportsGeneration,
      stats: _stats,
      files: _files,
      images: _images,
      description: _description,
      downloadUrl: _downloadUrl,
      ...rest
    } = s;
    const ecosystem = ECOSYSTEM.find(([re]) => re.test(s.baseModel ?? ''))?.[1] ?? 'other';
    const airType = AIR_TYPE[model.type ?? ''] ?? 'other';
    const stats = s.stats ?? {};
    const head: RawVersion = {
      id: s.id,
      modelId: model.id,
      name: s.name,
      ...(s.nsfwLevel !== undefined ? { nsfwLevel: s.nsfwLevel } : {}),
      createdAt: s.createdAt ?? s.publishedAt,
      updatedAt: s.updatedAt ?? s.publishedAt ?? s.createdAt,
      status: s.status ?? 'Published',
      publishedAt: s.publishedAt ?? s.createdAt,
      trainedWords: s.trainedWords ?? [],
      trainingStatus: null,
      trainingDetails: null,
      baseModel: s.baseModel,
      baseModelType: s.baseModelType ?? null,
    };
    // Era-specific keys the summary has and the head does not (earlyAccessTimeFrame, …).
    const extras = Object.fromEntries(Object.entries(rest).filter(([key]) => !(key in head)));
    const body: RawVersion = {
      ...head,
      ...extras,
      description: s.description ?? null,
      uploadType: 'Created',
      usageControl: 'Download',
      air: `urn:air:${ecosystem}:${airType}:civitai:${model.id}@${s.id}`,
      stats: { downloadCount: stats.downloadCount ?? 0, thumbsUpCount: stats.thumbsUpCount ?? 0 },
      model: { name: model.name, type: model.type, nsfw: model.nsfw ?? false, poi: model.poi ?? false },
      files: structuredClone(s.files ?? []),
      images: (s.images ?? []).slice(0, 10).map((image) => {
        const { id: _id, ...img } = image;
        return { ...structuredClone(img), meta: image.meta ?? null } as RawImage;
      }),
      downloadUrl: s.downloadUrl ?? `https://civitai.com/api/download/models/${s.id}`,
    };
    if (model.mode) body.model = { ...body.model, mode: model.mode };
    return body;
  }

  /** Every recorded image of a version (all captures, de-duplicated by uuid), with its version. */
  versionImages(versionId: number): RawImage[] {
    const seen = new Set<string>();
    const out: RawImage[] = [];
    for (const version of this.versionObjects(versionId)) {
      for (const image of version.images ?? []) {
        const key = imageUuid(image.url) ?? image.url;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(image);
      }
    }
    return out;
  }

  /** All version ids of a model (from its body and from version bodies naming it). */
  versionIdsOfModel(modelId: number): number[] {
    const ids = new Set<number>();
    for (const v of this.models.get(modelId)?.modelVersions ?? []) ids.add(v.id);
    for (const [id, body] of this.versionBodies) if (body.modelId === modelId) ids.add(id);
    return [...ids];
  }

  allVersionIds(): number[] {
    return [...new Set<number>([...this.versionBodies.keys(), ...this.captures.keys()])];
  }
}
