/**
 * Manual links (`civitscraper link FILE VERSION`): a file CivitAI cannot find by hash (a
 * re-saved, merged or renamed-on-upload file) is tied to a model version by hand. Links live in
 * `scanner.cache_dir/links.json`, keyed by the file's SHA-256, so they survive renames and moves
 * (any copy of the same bytes is the same model). Another tool may also write the link into the
 * metadata sidecar as `civitscraper.link`; a link made with the CLI wins.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { sourceHttp } from './http.ts';
import { ModelVersionSchema, type ModelVersion } from '../civitai/schemas.ts';
import type { ApiConfig } from '../config/schema.ts';
import type { Identification } from '../enrich/identify.ts';
import type { RunContext, WorkItem } from '../run.ts';
import { sidecarLink } from '../sidecars/metadata.ts';
import { toJsonText, writeFileAtomic } from '../util/atomic-write.ts';

export const LINKS_FILE_NAME = 'links.json';

export interface LinkEntry {
  versionId: number;
  /** What the user typed (id, URL or AIR). */
  ref: string;
  /** Where the file was when it was linked (for messages only). */
  path: string;
  linkedAt: string;
}

export interface LinkStore {
  file: string;
  links: Record<string, LinkEntry>;
}

export class LinkRefError extends Error {
  override name = 'LinkRefError';
}

/**
 * A version id from `1387174`, a civitai.com / civitai.red URL with `modelVersionId=`, or an
 * AIR (`urn:air:sdxl:lora:civitai:MODEL@VERSION`, optionally with a `.format` suffix).
 */
export function parseVersionRef(input: string | number): number {
  const text = String(input).trim();
  if (/^\d+$/.test(text)) return positive(Number(text), text);
  const air = /^(?:urn:)?air:[^:\s]+:[^:\s]+:civitai:(\d+)@(\d+)(?:\.[\w-]+)?$/i.exec(text);
  if (air) return positive(Number(air[2]), text);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && /^https?:$/.test(url.protocol)) {
    const id = url.searchParams.get('modelVersionId');
    if (id && /^\d+$/.test(id)) return positive(Number(id), text);
    const fromPath = /\/model-versions\/(\d+)/.exec(url.pathname);
    if (fromPath) return positive(Number(fromPath[1]), text);
    throw new LinkRefError(`${text}: the URL names no version; copy the link of a version (it has ?modelVersionId=…)`);
  }
  throw new LinkRefError(`${text}: not a version id, a CivitAI URL with modelVersionId=, or an AIR (urn:air:sdxl:lora:civitai:MODEL@VERSION)`);
}

function positive(id: number, text: string): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new LinkRefError(`${text}: not a valid version id`);
  return id;
}

export function linksPath(cacheDir: string): string {
  return path.join(path.resolve(cacheDir), LINKS_FILE_NAME);
}

export async function readLinks(cacheDir: string): Promise<LinkStore> {
  const file = linksPath(cacheDir);
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    const links = (parsed as { links?: unknown })?.links;
    if (links && typeof links === 'object' && !Array.isArray(links)) {
      const valid: Record<string, LinkEntry> = {};
      for (const [sha, entry] of Object.entries(links as Record<string, LinkEntry>)) {
        if (entry && Number.isSafeInteger(entry.versionId)) valid[sha.toUpperCase()] = entry;
      }
      return { file, links: valid };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
  }
  return { file, links: {} };
}

export async function writeLinks(store: LinkStore): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(store.links).sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeFileAtomic(store.file, toJsonText({ format: 1, links: sorted }));
}

/** The version id each item is linked to (CLI links first, then `civitscraper.link` in sidecars). */
export async function resolveLinks(ctx: RunContext): Promise<Map<WorkItem, number>> {
  const out = new Map<WorkItem, number>();
  let store: LinkStore;
  try {
    store = await readLinks(ctx.config.scanner.cache_dir);
  } catch (error) {
    ctx.log.warn(`manual links: ${linksPath(ctx.config.scanner.cache_dir)} cannot be read (${error instanceof Error ? error.message : String(error)})`);
    store = { file: '', links: {} };
  }
  // Most libraries have no links: 50,000 upper-cased hashes looked up for nothing are not free.
  const anyLinks = Object.keys(store.links).length > 0;
  for (const item of ctx.items) {
    const sha = anyLinks ? item.hashes?.SHA256?.toUpperCase() : undefined;
    const entry = sha ? store.links[sha] : undefined;
    if (entry) {
      out.set(item, entry.versionId);
      continue;
    }
    const ref = sidecarLink(item.sidecar);
    if (ref === undefined) continue;
    try {
      out.set(item, parseVersionRef(ref));
    } catch (error) {
      item.problems.push({ stage: 'identify', message: `civitscraper.link in the sidecar: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return out;
}

/**
 * The linked versions, by id: GET /model-versions/:id (the archive instead when offline, or
 * when the API fails and the archive has the version).
 */
export async function fetchLinkedVersions(ctx: RunContext, ids: Iterable<number>): Promise<Map<number, Identification>> {
  const out = new Map<number, Identification>();
  for (const id of new Set(ids)) {
    const archived = ctx.sources.archive?.findVersion(id);
    if (ctx.network === 'offline') {
      out.set(
        id,
        archived
          ? { status: 'identified', version: archived.version, source: 'archive_db', linked: true, ...(archived.model ? { model: archived.model } : {}) }
          : { status: 'unknown', error: `linked version ${id} is not in the archive, and --offline asks nothing of CivitAI` },
      );
      continue;
    }
    const answer = await getVersionById(ctx.config.api, id, ctx.signal, ctx.sources.linked);
    if (answer.status === 'identified') out.set(id, { ...answer, source: 'civitai', linked: true });
    else if (archived) out.set(id, { status: 'identified', version: archived.version, source: 'archive_db', linked: true, ...(archived.model ? { model: archived.model } : {}) });
    else if (answer.status === 'not-found') out.set(id, { status: 'unknown', error: `linked version ${id} does not exist on CivitAI (check the link: civitscraper link --remove FILE)` });
    else out.set(id, answer);
  }
  return out;
}

/**
 * GET /model-versions/:id. The shared CivitAI client has no by-id route yet, so this is a
 * plain request with the same base URL, key and timeout (one per linked version and run).
 * `count` adds up the requests sent (retries too) for the run report.
 */
export async function getVersionById(
  api: ApiConfig,
  id: number,
  signal?: AbortSignal,
  count?: { requests: number; retries: number },
): Promise<{ status: 'identified'; version: ModelVersion } | { status: 'not-found' } | { status: 'unknown'; error: string }> {
  const base = api.base_url.replace(/\/+$/, '');
  const http = sourceHttp(api, { baseUrl: base, withKey: true, ...(signal ? { signal } : {}), maxRetries: Math.min(api.max_retries, 2) });
  let response;
  try {
    response = await http.requestJson('GET', `${base}/model-versions/${id}`);
  } catch (error) {
    if (signal?.aborted) return { status: 'unknown', error: 'interrupted' };
    return { status: 'unknown', error: `version ${id}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    if (count) {
      count.requests += http.stats.apiRequests;
      count.retries += http.stats.retries;
    }
  }
  if (response.status === 404 && response.json !== undefined) return { status: 'not-found' };
  if (response.status === 200 && response.json !== undefined) {
    const parsed = ModelVersionSchema.safeParse(response.json);
    if (parsed.success) return { status: 'identified', version: parsed.data };
    return { status: 'unknown', error: `CivitAI sent a body of an unexpected shape for version ${id}` };
  }
  return { status: 'unknown', error: `CivitAI answered ${response.status} for version ${id}` };
}

/** The file's SHA-256 from the ledger when it is unchanged, else read (the CLI's link command). */
export async function fileExists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
