/**
 * The resources an image was made with (checkpoint, LoRAs, embeddings, VAE), read from its
 * generation data as CivitAI returns it, in every form found in real bodies:
 *
 * - `civitaiResources`: `[{ type, weight?, modelVersionId, modelVersionName? }]` (on-site generator);
 * - `resources`: `[{ type: 'model' | 'lora' | …, name, hash?, weight? }]` (parsed A1111 text);
 * - `hashes`: `{ model: <AutoV2>, 'lora:<name>': <hash>, 'embed:<name>': …, vae: … }`;
 * - A1111's own lines: `Model` + `Model hash`, `Lora hashes` and `TI hashes` (`name: hash, …`).
 *
 * One resource may appear in several of them: they are merged by version id, then hash, then
 * type and name. Each is linked to the local model page when the library has it (by version id,
 * or by hash: AutoV2 / SHA-256 prefix, AutoV3 prefix, AutoV1), else to its CivitAI page when its
 * version id is known.
 */
import type { ModelRecord } from '../engine/records/schema.ts';

export type ResourceKind = 'checkpoint' | 'lora' | 'embedding' | 'vae' | 'other';

export interface ImageResource {
  kind: ResourceKind;
  name: string;
  weight?: number;
  hash?: string;
  versionId?: number;
  /** Page id of the local model file, when the library has it. */
  localId?: string;
  /** CivitAI page of the version (when its id is known and no local page is). */
  url?: string;
}

export interface ResourceLookup {
  /** CivitAI version id → page ids of local files. */
  byVersion: ReadonlyMap<number, readonly string[]>;
  /** Lower-case short hash (AutoV2, SHA-256, AutoV3 prefixes, AutoV1) → page ids. */
  byHash: ReadonlyMap<string, readonly string[]>;
  /** Page id → display name, for resources that only have a hash. */
  names: ReadonlyMap<string, string>;
  domain: string;
}

export function resourceLookup(records: Iterable<Pick<ModelRecord, 'id' | 'hashes' | 'version'>>, names: ReadonlyMap<string, string>, domain: string): ResourceLookup {
  const byVersion = new Map<number, string[]>();
  const byHash = new Map<string, string[]>();
  const add = <K>(map: Map<K, string[]>, key: K, id: string) => {
    const list = map.get(key) ?? [];
    if (!list.includes(id)) list.push(id);
    map.set(key, list);
  };
  for (const record of records) {
    if (record.version) add(byVersion, record.version.id, record.id);
    for (const key of hashKeys(record.hashes)) add(byHash, key, record.id);
  }
  return { byVersion, byHash, names, domain };
}

function hashKeys(hashes: ModelRecord['hashes']): string[] {
  const keys: string[] = [];
  const sha = hashes.SHA256?.toLowerCase();
  if (sha) keys.push(sha, sha.slice(0, 10), sha.slice(0, 12));
  if (hashes.AutoV2) keys.push(hashes.AutoV2.toLowerCase());
  const v3 = hashes.AutoV3?.toLowerCase();
  if (v3) keys.push(v3, v3.slice(0, 10), v3.slice(0, 12));
  if (hashes.AutoV1) keys.push(hashes.AutoV1.toLowerCase());
  return keys;
}

const KINDS: Record<string, ResourceKind> = {
  model: 'checkpoint',
  checkpoint: 'checkpoint',
  lora: 'lora',
  locon: 'lora',
  lycoris: 'lora',
  dora: 'lora',
  embed: 'embedding',
  embedding: 'embedding',
  textualinversion: 'embedding',
  ti: 'embedding',
  vae: 'vae',
};

function kindOf(value: unknown): ResourceKind {
  return typeof value === 'string' ? (KINDS[value.toLowerCase().replace(/[^a-z]/g, '')] ?? 'other') : 'other';
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed ? trimmed.slice(0, 300) : undefined;
}

function number(value: unknown): number | undefined {
  const parsed = typeof value === 'number' ? value : typeof value === 'string' && value.trim() ? Number(value) : NaN;
  return Number.isFinite(parsed) ? parsed : undefined;
}

const HASH = /^[0-9a-f]{8,64}$/i;

function hashOf(value: unknown): string | undefined {
  const found = text(value);
  return found && HASH.test(found) ? found.toLowerCase() : undefined;
}

/** `name: hash, name2: hash2` (A1111's `Lora hashes` / `TI hashes`). */
function pairs(value: unknown): { name: string; hash: string }[] {
  const line = text(value)?.replace(/^"|"$/g, '');
  if (!line) return [];
  return line.split(',').flatMap((part) => {
    const at = part.lastIndexOf(':');
    if (at <= 0) return [];
    const name = part.slice(0, at).trim();
    const hash = hashOf(part.slice(at + 1));
    return name && hash ? [{ name, hash }] : [];
  });
}

/** The resources of one image's `meta`, linked through `lookup`; [] when it names none. */
export function imageResources(meta: Record<string, unknown> | null | undefined, lookup: ResourceLookup): ImageResource[] {
  if (!meta || typeof meta !== 'object') return [];
  const found: ImageResource[] = [];
  const merge = (next: ImageResource) => {
    const same = found.find(
      (known) =>
        (next.versionId !== undefined && known.versionId === next.versionId) ||
        (next.hash !== undefined && known.hash !== undefined && (known.hash.startsWith(next.hash) || next.hash.startsWith(known.hash))) ||
        (known.kind === next.kind && known.name.toLowerCase() === next.name.toLowerCase() && (known.hash === undefined || next.hash === undefined)),
    );
    if (!same) {
      found.push(next);
      return;
    }
    if (same.name.startsWith('Version ') && !next.name.startsWith('Version ')) same.name = next.name;
    same.weight ??= next.weight;
    same.hash ??= next.hash;
    same.versionId ??= next.versionId;
    if (same.kind === 'other') same.kind = next.kind;
  };

  for (const item of Array.isArray(meta.civitaiResources) ? meta.civitaiResources : []) {
    if (!item || typeof item !== 'object') continue;
    const entry = item as Record<string, unknown>;
    const versionId = number(entry.modelVersionId);
    if (versionId === undefined || !Number.isInteger(versionId) || versionId <= 0) continue;
    const weight = number(entry.weight ?? entry.strength);
    merge({
      kind: kindOf(entry.type),
      name: text(entry.modelVersionName) ?? text(entry.modelName) ?? `Version ${versionId}`,
      versionId,
      ...(weight !== undefined ? { weight } : {}),
    });
  }
  for (const item of Array.isArray(meta.resources) ? meta.resources : []) {
    if (!item || typeof item !== 'object') continue;
    const entry = item as Record<string, unknown>;
    const name = text(entry.name);
    const hash = hashOf(entry.hash);
    if (!name && !hash) continue;
    const weight = number(entry.weight);
    merge({ kind: kindOf(entry.type), name: name ?? hash ?? '', ...(hash ? { hash } : {}), ...(weight !== undefined ? { weight } : {}) });
  }
  const hashes = meta.hashes && typeof meta.hashes === 'object' && !Array.isArray(meta.hashes) ? (meta.hashes as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(hashes)) {
    const hash = hashOf(value);
    if (!hash) continue;
    const at = key.indexOf(':');
    const type = at < 0 ? key : key.slice(0, at);
    const kind = kindOf(type);
    if (kind === 'other') continue;
    const name = at < 0 ? (kind === 'checkpoint' ? (text(meta.Model) ?? hash) : hash) : key.slice(at + 1).split(/[\\/]/).pop() || hash;
    merge({ kind, name: name.replace(/\.(safetensors|ckpt|pt|bin)$/i, ''), hash });
  }
  const modelHash = hashOf(meta['Model hash']);
  const modelName = text(meta.Model);
  if (modelHash || modelName) merge({ kind: 'checkpoint', name: modelName ?? modelHash ?? '', ...(modelHash ? { hash: modelHash } : {}) });
  for (const { name, hash } of pairs(meta['Lora hashes'])) merge({ kind: 'lora', name, hash });
  for (const { name, hash } of pairs(meta['TI hashes'])) merge({ kind: 'embedding', name, hash });

  return found.filter((resource) => resource.name).map((resource) => link(resource, lookup));
}

function link(resource: ImageResource, lookup: ResourceLookup): ImageResource {
  const local =
    (resource.versionId !== undefined ? lookup.byVersion.get(resource.versionId)?.[0] : undefined) ??
    (resource.hash ? (lookup.byHash.get(resource.hash) ?? lookup.byHash.get(resource.hash.slice(0, 10)))?.[0] : undefined);
  if (local) return { ...resource, name: lookup.names.get(local) ?? resource.name, localId: local };
  if (resource.versionId !== undefined) return { ...resource, url: `https://${lookup.domain}/model-versions/${resource.versionId}` };
  return resource;
}

export const RESOURCE_LABELS: Record<ResourceKind, string> = {
  checkpoint: 'Checkpoint',
  lora: 'LoRA',
  embedding: 'Embedding',
  vae: 'VAE',
  other: 'Resource',
};

/**
 * What an entry's images point at (version ids and hashes), kept with the entry so the model
 * page's cacheKey (page-key.ts) can tell when a resource it links to arrives in the library or
 * leaves it, without reading every page's details.
 */
export function resourceRefs(metas: readonly (Record<string, unknown> | null | undefined)[]): { versions: number[]; hashes: string[] } | undefined {
  const none: ResourceLookup = { byVersion: new Map(), byHash: new Map(), names: new Map(), domain: '' };
  const versions = new Set<number>();
  const hashes = new Set<string>();
  for (const meta of metas) {
    for (const resource of imageResources(meta, none)) {
      if (resource.versionId !== undefined) versions.add(resource.versionId);
      if (resource.hash) hashes.add(resource.hash);
    }
  }
  if (versions.size === 0 && hashes.size === 0) return undefined;
  return { versions: [...versions].sort((a, b) => a - b), hashes: [...hashes].sort() };
}

/** Page ids of local files that `refs` resolve to (page-key.ts). */
export function resolveRefs(refs: { versions: number[]; hashes: string[] } | undefined, lookup: ResourceLookup): string[] {
  if (!refs) return [];
  const ids = new Set<string>();
  for (const id of refs.versions) for (const local of lookup.byVersion.get(id) ?? []) ids.add(local);
  for (const hash of refs.hashes) for (const local of lookup.byHash.get(hash) ?? lookup.byHash.get(hash.slice(0, 10)) ?? []) ids.add(local);
  return [...ids].sort();
}
