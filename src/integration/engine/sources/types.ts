/**
 * A source answers "which model version is this SHA-256?". Sources are asked in the user's
 * order (`sources.order`); each answer is per hash: `identified`, `not-found` (the source
 * really does not know it) or `unknown` (the source failed: network, 5xx, bad body). A failed
 * source is skipped and the next one asked; "not found" needs a real "no" from every source.
 */
import type { Model, ModelVersion } from '../civitai/schemas.ts';
import type { SourceName } from '../config/schema.ts';

export type { SourceName };

export type SourceAnswer =
  | { status: 'identified'; version: ModelVersion; model?: Model }
  | { status: 'not-found' }
  | { status: 'unknown'; error: string };

export interface IdentifySource {
  readonly name: SourceName;
  /** True when answers come from this machine (no request leaves it). */
  readonly local: boolean;
  /** Hashes are upper-case SHA-256; every hash gets an answer. */
  lookup(sha256s: readonly string[]): Promise<Map<string, SourceAnswer>>;
  close?(): void;
}
