/**
 * Notes and preferred weights that already sit beside a model, written by the user or another
 * tool: A1111/Forge's user metadata `<stem>.json` (`notes`, `preferred weight`, `activation
 * text`; with the default config this is also our own sidecar) and ComfyUI-Lora-Manager's
 * `<stem>.metadata.json` (`notes`, `usage_tips.strength`). The site shows them on the model page
 * and puts the weight into the card's usage line.
 *
 * Read here rather than in the engine's stages because only the site shows them. A cache in the
 * cache folder keeps each file's values by size and mtime: a rebuild stats the two paths of each
 * model and reads (and parses) only the files that changed — our sidecars carry whole API
 * bodies, and parsing 10,000 of them on every build would cost seconds.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { ScanJob } from '../engine/config/schema.ts';
import type { ModelRecord } from '../engine/records/schema.ts';
import { a1111UserValues, type SidecarUserValues } from '../engine/sidecars/a1111.ts';
import { loraManagerPath, loraManagerUserValues } from '../engine/sidecars/compat.ts';
import { resolveSidecarLayout } from '../engine/sidecars/paths.ts';
import { writeFileAtomic } from '../engine/util/atomic-write.ts';
import { mapLimit } from '../engine/util/map-limit.ts';

/** What the site keeps per model: values of each tool that set any. */
export interface SiteSidecarValues {
  a1111?: SidecarUserValues;
  loraManager?: SidecarUserValues;
}

const CACHE_FORMAT = 1;
const ValuesSchema = z.object({ notes: z.string().optional(), weight: z.number().optional(), activationText: z.string().optional() });
const CacheSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  /** Path → [size, mtimeMs, values or null when the file set none]. */
  files: z.record(z.string(), z.tuple([z.number(), z.number(), ValuesSchema.nullable()])),
});
type CacheFiles = z.infer<typeof CacheSchema>['files'];

/** Largest sidecar read for these values; anything bigger is not a metadata file. */
const MAX_BYTES = 32 * 1024 * 1024;

export function sidecarValuesCacheFile(cacheDir: string): string {
  return path.join(path.resolve(cacheDir), 'site-sidecar-values.json');
}

export { sidecarWeight } from './entries.ts';

/**
 * The sidecar values of each record (by record id), for the records of `job`. Files that are not
 * JSON objects, or are unreadable, give nothing: they belong to somebody else.
 */
export async function readSidecarValues(
  items: readonly { record: ModelRecord; job: ScanJob }[],
  cacheDir: string,
): Promise<Map<string, SiteSidecarValues>> {
  const cacheFile = sidecarValuesCacheFile(cacheDir);
  const before = await readCache(cacheFile);
  const after: CacheFiles = {};
  const out = new Map<string, SiteSidecarValues>();
  await mapLimit(items, 32, async ({ record, job }) => {
    const layout = resolveSidecarLayout(record.file, job.output);
    const [a1111, loraManager] = await Promise.all([
      valuesOf(layout.a1111Path, before, after, a1111UserValues),
      valuesOf(loraManagerPath(layout.compatDir, record.file.stem), before, after, loraManagerUserValues),
    ]);
    const values: SiteSidecarValues = {
      ...(a1111 && Object.keys(a1111).length ? { a1111 } : {}),
      ...(loraManager && Object.keys(loraManager).length ? { loraManager } : {}),
    };
    if (values.a1111 || values.loraManager) out.set(record.id, values);
  });
  // Only what this run saw: files of models that are gone leave the cache with them.
  // Compact, as the entries file; a cache that cannot be written only costs reads next time.
  await writeFileAtomic(cacheFile, `${JSON.stringify({ format: CACHE_FORMAT, files: sortedKeys(after) })}\n`, { skipIfUnchanged: true }).catch(() => undefined);
  return out;
}

async function valuesOf(
  file: string,
  before: CacheFiles,
  after: CacheFiles,
  read: (document: Record<string, unknown>) => SidecarUserValues,
): Promise<SidecarUserValues | undefined> {
  // Most of these files do not exist: a synchronous stat that returns undefined costs a few
  // microseconds, a rejected promise with its error object many times that.
  let info;
  try {
    info = statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  if (!info?.isFile() || info.size > MAX_BYTES) return undefined;
  const known = before[file];
  if (known && known[0] === info.size && known[1] === info.mtimeMs) {
    after[file] = known;
    return known[2] ?? undefined;
  }
  let values: SidecarUserValues | undefined;
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) values = read(parsed as Record<string, unknown>);
  } catch {
    values = undefined;
  }
  const clean = values && Object.keys(values).length ? values : undefined;
  after[file] = [info.size, info.mtimeMs, clean ?? null];
  return clean;
}

async function readCache(file: string): Promise<CacheFiles> {
  try {
    const parsed = CacheSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return parsed.success ? parsed.data.files : {};
  } catch {
    // No cache yet, or a damaged one: every file is read again.
    return {};
  }
}

function sortedKeys(files: CacheFiles): CacheFiles {
  const out: CacheFiles = {};
  for (const key of Object.keys(files).sort()) out[key] = files[key] as CacheFiles[string];
  return out;
}
