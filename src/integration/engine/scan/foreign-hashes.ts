/**
 * Hashes that other tools already computed and wrote beside a model file, so a library that
 * another manager has seen is not read again:
 *
 * | sidecar (`<stem>` = file name without extension) | written by | what we take | size recorded |
 * |---|---|---|---|
 * | `<stem>.json` with a `civitscraper` section | us | `civitscraper.hashes` | `civitscraper.file.size` |
 * | `<stem>.json`, raw model-version body (seed CivitScraper) | CivitScraper (Python) | `files[].hashes` | `files[].sizeKB` |
 * | `<stem>.metadata.json` | ComfyUI-Lora-Manager | `sha256` (+ `civitai.files[].hashes` of that file) | `size` |
 * | `<stem>.civitai.info` | Civitai Helper (+ forks) | `files[].hashes` | `files[].sizeKB` |
 * | `<stem>.json` with `sha256` | CivitAI Browser+ (A1111 user metadata) | `sha256` | — |
 * | `<stem>.cm-info.json` | StabilityMatrix | `Hashes` | — |
 * | `<stem>.sha256`, `<file name>.sha256` | ComfyUI-Custom-Scripts (the first); `sha256sum` (the second) | the hex digest | — |
 *
 * A sidecar that records a size is trusted only when it equals the file's size. One that records
 * none is trusted only when it is not older than the model file (a model rewritten after its
 * sidecar, e.g. by a header edit, is hashed again), unless `allowUnsized: false`. When trusted
 * sidecars disagree about the SHA-256, none is used.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { HASH_TYPES, type HashType, type Hashes } from '../records/schema.ts';
import { createLimiter, OPEN_FILES_LIMIT } from './safetensors.ts';
import { quickStat } from './stat-many.ts';

export type ForeignSource =
  | 'civitscraper'
  | 'civitscraper-seed'
  | 'lora-manager'
  | 'civitai.info'
  | 'civitai-browser'
  | 'stability-matrix'
  | 'sha256-file';

export interface ForeignHashes {
  hashes: Hashes;
  /** The sidecar format the hashes came from (the most trusted one when several agree). */
  source: ForeignSource;
  /** Every sidecar that contributed, most trusted first. */
  sidecars: string[];
  /** True when the source recorded a size and it matched; false when trusted by mtime only. */
  sizeChecked: boolean;
}

export interface ReadForeignHashesOptions {
  /** The model's mtime, if the caller has it (saves a stat). */
  mtimeMs?: number;
  /** Our own sidecars at configured places (`output.metadata.filename`) besides `<stem>.json`. */
  ownSidecars?: readonly string[];
  /** Use sidecars that record no size (default true). */
  allowUnsized?: boolean;
  /**
   * The names in the model's folder, lower-cased (`folderNames`), when the caller listed it: a
   * sidecar there whose name is not among them is not looked for (most models have none of the
   * six; a library's listing is cheaper than six stats per model).
   */
  folderNames?: ReadonlySet<string>;
}

/** The lower-cased names in a folder, for `folderNames`; undefined when it cannot be listed. */
export async function folderNames(folder: string): Promise<Set<string> | undefined> {
  try {
    // Lower-cased: on a case-insensitive volume `Model.JSON` is found by the stat it leads to.
    return new Set((await readdir(folder)).map((name) => name.toLowerCase()));
  } catch {
    return undefined;
  }
}

/** SHA-256 of empty input, truncated: trainers embed it as a fake AutoV3. */
const EMPTY_AUTOV3 = 'E3B0C44298FC';
/** Unsized sidecars written up to this long before the model's mtime are still trusted (coarse clocks). */
const MTIME_SLACK_MS = 2000;

const HEX_LENGTH: Record<HashType, number> = { SHA256: 64, AutoV2: 10, AutoV1: 8, AutoV3: 12, BLAKE3: 64, CRC32: 8 };
const TYPE_BY_LOWER = new Map<string, HashType>(HASH_TYPES.map((type) => [type.toLowerCase(), type]));

const FileEntrySchema = z.looseObject({
  sizeKB: z.number().optional(),
  hashes: z.record(z.string(), z.unknown()).optional(),
});
const VersionPayloadSchema = z.looseObject({ files: z.array(z.unknown()) });
const OwnSchema = z.looseObject({
  civitscraper: z.looseObject({
    file: z.looseObject({ size: z.number() }),
    hashes: z.record(z.string(), z.unknown()),
  }),
});
const LoraManagerSchema = z.looseObject({
  sha256: z.string(),
  size: z.number().optional(),
  hash_status: z.string().optional(),
  civitai: z.unknown().optional(),
});
const BrowserPlusSchema = z.looseObject({ sha256: z.string() });
const StabilityMatrixSchema = z.looseObject({ Hashes: z.record(z.string(), z.unknown()) });

interface Candidate {
  hashes: Hashes;
  source: ForeignSource;
  sidecar: string;
  sizeChecked: boolean;
}

export async function readForeignHashes(
  modelPath: string,
  size: number,
  options: ReadForeignHashesOptions = {},
): Promise<ForeignHashes | undefined> {
  const folder = path.dirname(modelPath);
  const name = path.basename(modelPath);
  const ext = path.extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  const beside = (suffix: string) => path.join(folder, stem + suffix);
  const allowUnsized = options.allowUnsized ?? true;
  let modelMtime = options.mtimeMs;

  const candidates: Candidate[] = [];
  const unsized: Candidate[] = [];
  const listed = options.folderNames;
  const absent = (sidecar: string) =>
    listed !== undefined && path.dirname(sidecar) === folder && !listed.has(path.basename(sidecar).toLowerCase());
  const consider = async (sidecar: string, parse: (raw: unknown, sidecar: string) => Candidate | Candidate[] | undefined) => {
    if (absent(sidecar)) return;
    const raw = await readJson(sidecar);
    if (raw === undefined) return;
    const found = parse(raw, sidecar);
    for (const candidate of Array.isArray(found) ? found : found ? [found] : []) {
      (candidate.sizeChecked ? candidates : unsized).push(candidate);
    }
  };

  const ownPaths = [...new Set([...(options.ownSidecars ?? []), beside('.json')])];
  for (const own of ownPaths) {
    await consider(own, (raw, sidecar) => {
      const ours = OwnSchema.safeParse(raw);
      if (ours.success) {
        if (ours.data.civitscraper.file.size !== size) return undefined;
        const hashes = normalize(ours.data.civitscraper.hashes);
        return hashes ? { hashes, source: 'civitscraper', sidecar, sizeChecked: true } : undefined;
      }
      const seed = fromVersionPayload(raw, size);
      if (seed) return { hashes: seed, source: 'civitscraper-seed', sidecar, sizeChecked: true };
      const browser = BrowserPlusSchema.safeParse(raw);
      if (browser.success) {
        const hashes = normalize({ SHA256: browser.data.sha256 });
        return hashes ? { hashes, source: 'civitai-browser', sidecar, sizeChecked: false } : undefined;
      }
      return undefined;
    });
  }

  await consider(beside('.metadata.json'), (raw, sidecar) => {
    const lm = LoraManagerSchema.safeParse(raw);
    if (!lm.success || (lm.data.hash_status && lm.data.hash_status !== 'completed')) return undefined;
    const own = normalize({ SHA256: lm.data.sha256 });
    if (!own?.SHA256) return undefined;
    if (lm.data.size !== undefined && lm.data.size !== size) return undefined;
    // The CivitAI payload LM stored has the other hash types of the very same file.
    const fromApi = fromVersionPayload(lm.data.civitai, size, own.SHA256);
    const hashes = fromApi?.SHA256 === own.SHA256 ? { ...fromApi, ...own } : own;
    return { hashes, source: 'lora-manager', sidecar, sizeChecked: lm.data.size !== undefined };
  });

  await consider(beside('.civitai.info'), (raw, sidecar) => {
    const hashes = fromVersionPayload(raw, size);
    return hashes ? { hashes, source: 'civitai.info', sidecar, sizeChecked: true } : undefined;
  });

  await consider(beside('.cm-info.json'), (raw, sidecar) => {
    const sm = StabilityMatrixSchema.safeParse(raw);
    if (!sm.success) return undefined;
    const hashes = normalize(sm.data.Hashes);
    return hashes ? { hashes, source: 'stability-matrix', sidecar, sizeChecked: false } : undefined;
  });

  // ComfyUI-Custom-Scripts writes `<stem>.sha256` (the bare lower-case digest, no newline) when
  // it first shows a model's info; `sha256sum > <file>.sha256` writes `<digest>  <file name>`.
  for (const sidecar of [beside('.sha256'), path.join(folder, `${name}.sha256`)]) {
    if (absent(sidecar)) continue;
    const sha256 = await readSha256File(sidecar, name);
    const hashes = sha256 ? normalize({ SHA256: sha256 }) : undefined;
    if (hashes) unsized.push({ hashes, source: 'sha256-file', sidecar, sizeChecked: false });
  }

  if (allowUnsized && unsized.length > 0) {
    modelMtime ??= (await quickStat(modelPath))?.mtimeMs;
    for (const candidate of unsized) {
      const sidecarMtime = (await quickStat(candidate.sidecar))?.mtimeMs;
      if (modelMtime !== undefined && sidecarMtime !== undefined && sidecarMtime >= modelMtime - MTIME_SLACK_MS) {
        candidates.push(candidate);
      }
    }
  }

  const [best, ...others] = candidates;
  if (!best) return undefined;
  let hashes: Hashes = { ...best.hashes };
  const sidecars = [best.sidecar];
  for (const other of others) {
    if (other.hashes.SHA256 !== best.hashes.SHA256) {
      // Two size-checked sidecars that disagree: one of them describes another file.
      if (other.sizeChecked || !best.sizeChecked) return undefined;
      continue;
    }
    if (conflicts(hashes, other.hashes)) return undefined;
    hashes = { ...other.hashes, ...hashes };
    if (!sidecars.includes(other.sidecar)) sidecars.push(other.sidecar);
  }
  return { hashes, source: best.source, sidecars, sizeChecked: best.sizeChecked };
}

/**
 * The hashes of the entry in a model-version payload's `files[]` that is this file: the one whose
 * SHA-256 is `sha256` when given, else the one whose `sizeKB` is exactly our size.
 */
function fromVersionPayload(raw: unknown, size: number, sha256?: string): Hashes | undefined {
  const payload = VersionPayloadSchema.safeParse(raw);
  if (!payload.success) return undefined;
  const matches: Hashes[] = [];
  for (const item of payload.data.files) {
    const file = FileEntrySchema.safeParse(item);
    if (!file.success || !file.data.hashes || file.data.sizeKB === undefined) continue;
    if (Math.abs(file.data.sizeKB * 1024 - size) >= 1) continue;
    const hashes = normalize(file.data.hashes);
    if (!hashes) continue;
    if (sha256 !== undefined && hashes.SHA256 !== sha256) continue;
    matches.push(hashes);
  }
  // Two files of the same size with different hashes (rare): we cannot tell which one is ours.
  const [first, ...rest] = matches;
  if (!first || rest.some((other) => other.SHA256 !== first.SHA256)) return undefined;
  return first;
}

/** Upper-case hex of the known types with the right length; undefined without a usable SHA-256. */
export function normalize(raw: Record<string, unknown>): Hashes | undefined {
  const hashes: Hashes = {};
  for (const [key, value] of Object.entries(raw)) {
    const type = TYPE_BY_LOWER.get(key.toLowerCase());
    if (!type || typeof value !== 'string') continue;
    let hex = value.trim().toUpperCase();
    if (type === 'AutoV3' && hex.length === 64) hex = hex.slice(0, 12);
    if (hex.length !== HEX_LENGTH[type] || !/^[0-9A-F]+$/.test(hex)) continue;
    if (type === 'AutoV3' && hex === EMPTY_AUTOV3) continue;
    hashes[type] = hex;
  }
  if (!hashes.SHA256) return undefined;
  const autoV2 = hashes.SHA256.slice(0, 10);
  if (hashes.AutoV2 !== undefined && hashes.AutoV2 !== autoV2) return undefined;
  hashes.AutoV2 = autoV2;
  return hashes;
}

function conflicts(a: Hashes, b: Hashes): boolean {
  return HASH_TYPES.some((type) => a[type] !== undefined && b[type] !== undefined && a[type] !== b[type]);
}

/** Every sidecar read of the process goes through this gate, however many models ask at once. */
const sidecarReads = createLimiter(OPEN_FILES_LIMIT);

/** Longer than any digest line with a file name: anything bigger is not a `.sha256` file. */
const MAX_SHA256_FILE_BYTES = 4096;

/**
 * The digest in a `.sha256` file: its first line is the hex digest, optionally followed by the
 * file it is for (`sha256sum` style, `*` marking binary mode), which must then be this model.
 */
async function readSha256File(file: string, modelName: string): Promise<string | undefined> {
  let text: string;
  try {
    // Most models have none of the six sidecars looked for: a quick stat says so without a
    // thread-pool round trip and an ENOENT error each.
    const info = await quickStat(file);
    if (!info?.isFile() || info.size > MAX_SHA256_FILE_BYTES) return undefined;
    text = await sidecarReads(() => readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const line = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r?\n/)[0]?.trim() ?? '';
  const match = /^([0-9a-fA-F]{64})(?:\s+\*?(.+))?$/.exec(line);
  if (!match) return undefined;
  const named = match[2]?.trim();
  if (named !== undefined && path.basename(named) !== modelName) return undefined;
  return match[1];
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    // Only regular files: a pipe named like a sidecar would block the read forever.
    if (!(await quickStat(file))?.isFile()) return undefined;
    text = await sidecarReads(() => readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return undefined;
  }
}
