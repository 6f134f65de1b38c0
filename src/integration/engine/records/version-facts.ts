/**
 * The few things a run needs from a stored version body for a file that needs no work: its AIR,
 * and size and hashes of the version's file with our SHA-256 (the size check, the hashes
 * completed from CivitAI's answer). Kept beside the stamp (state/sidecar-stamps.ts), so such a
 * file's record is built without parsing its version or model.
 */
import type { Model, ModelVersion } from '../civitai/schemas.ts';
import { airOf } from '../sources/air.ts';
import { isSet, lazyOf, type LazyValue } from './lazy.ts';
import type { Hashes } from './schema.ts';

export interface VersionFacts {
  modelId?: number;
  air?: string;
  /** `sizeKB` of the version's file with our SHA-256. */
  sizeKB?: number;
  /** The `hashes` of that file our hashes lack (usually none). */
  fileHashes?: Record<string, string>;
}

/** What a lazy version from the state store carries (records/lazy.ts: `LazyValue.meta`). */
export interface BodyMeta {
  /** The body's key in the state store. */
  key: string;
  /** Only on a version: its facts, true while the holder's parent model is `model`. */
  facts?: VersionFacts;
  /** The parent model the facts were taken with (null: none). */
  model?: LazyValue<unknown> | null;
}

/** Facts of a version for a file with `hashes`, with its parent model. */
export function versionFacts(version: ModelVersion, model: Model | undefined, hashes: Hashes): VersionFacts {
  const sha = hashes.SHA256?.toUpperCase();
  const match = sha ? (version.files ?? []).find((file) => file.hashes?.SHA256?.toUpperCase() === sha) : undefined;
  const air = airOf(version, model);
  const modelId = version.modelId ?? model?.id;
  const lacking = Object.entries(match?.hashes ?? {}).filter(([type]) => hashes[type as keyof Hashes] === undefined);
  return {
    ...(typeof modelId === 'number' ? { modelId } : {}),
    ...(air ? { air } : {}),
    ...(typeof match?.sizeKB === 'number' ? { sizeKB: match.sizeKB } : {}),
    ...(lacking.length > 0 ? { fileHashes: Object.fromEntries(lacking) } : {}),
  };
}

interface WithBodies {
  version?: ModelVersion;
  model?: Model;
  hashes?: Hashes;
}

/**
 * The facts of `holder.version` (an item or a record): the stored ones while its version and
 * parent model are still the unparsed bodies they were stored with, else taken from the bodies
 * (which parses them).
 */
export function factsOf(holder: WithBodies): VersionFacts | undefined {
  const meta = lazyOf(holder, 'version')?.meta as BodyMeta | undefined;
  if (meta?.facts && meta.model !== undefined) {
    const model = lazyOf(holder, 'model');
    if (model ? model === meta.model : meta.model === null && !isSet(holder, 'model')) return meta.facts;
  }
  return holder.version ? versionFacts(holder.version, holder.model, holder.hashes ?? {}) : undefined;
}

/**
 * CivitAI's file with our hash should be our size (`sizeKB` is bytes / 1024); a different size
 * means a wrong hash on CivitAI's side or a stale hash on ours.
 */
export function sizeMismatchOf(facts: VersionFacts | undefined, size: number): string | undefined {
  if (typeof facts?.sizeKB !== 'number') return undefined;
  const theirs = Math.round(facts.sizeKB * 1024);
  if (Math.abs(theirs - size) <= 1024) return undefined;
  return `CivitAI's file for this hash is ${theirs} bytes, this one is ${size}`;
}
