/**
 * A small, deterministic model library on disk for tests and demos: real safetensors / `.pt`
 * files bound to recorded CivitAI versions (the fake server re-keys those versions to these
 * files' hashes), files CivitAI does not know, and broken files.
 */
import { lstat, mkdir, readFile, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { civitaiHashes, type CivitaiHashes } from '../fake-civitai/hashes.ts';
import {
  buildSafetensors,
  buildTorchEmbedding,
  tensorData,
  tensorsFor,
  type Architecture,
} from './formats.ts';

export type SampleKind = 'identified' | 'unknown' | 'empty' | 'corrupt' | 'broken-symlink';

export interface SampleBinding {
  versionId: number;
  modelId: number;
}

export interface SampleEntry {
  /** Relative to the library root, with `/`. */
  relativePath: string;
  kind: SampleKind;
  /** Bytes on disk (0 for the broken symlink). */
  size: number;
  /** Upper-case SHA-256 of the whole file; absent when the file cannot be read (broken symlink). */
  sha256?: string;
  /** Every hash type CivitAI would store for these bytes (AutoV1 only ≥ 2 MiB, AutoV3 only safetensors). */
  hashes?: CivitaiHashes;
  /** The recorded CivitAI version the fake server serves for this file. */
  binding?: SampleBinding;
  /** What the file is for, in one line. */
  note: string;
}

export interface SampleLibrary {
  version: 1;
  /** Absolute path of the library root when it was generated. */
  root: string;
  entries: SampleEntry[];
}

/** Written at the library root; hidden, and outside every input path. */
export const MANIFEST_FILE = '.sample-library.json';

/** Top folders and the `input_paths` type each one stands for. */
export const SAMPLE_INPUT_FOLDERS = [
  { id: 'loras', folder: 'Lora', type: 'LORA', patterns: ['*.safetensors'] },
  { id: 'checkpoints', folder: 'Checkpoint', type: 'Checkpoint', patterns: ['*.safetensors'] },
  { id: 'embeddings', folder: 'Embeddings', type: 'TextualInversion', patterns: ['*.pt', '*.safetensors'] },
] as const;

export interface SampleInputPath {
  path: string;
  type: string;
  patterns: string[];
  recursive: boolean;
}

/** The `input_paths` block a config for this library would use (one entry per top folder). */
export function sampleInputPaths(dir: string): Record<string, SampleInputPath> {
  const out: Record<string, SampleInputPath> = {};
  for (const f of SAMPLE_INPUT_FOLDERS) {
    out[f.id] = { path: join(resolve(dir), f.folder), type: f.type, patterns: [...f.patterns], recursive: true };
  }
  return out;
}

type Content =
  | { format: 'safetensors'; arch: Architecture; bytes: number; metadata?: Record<string, string>; kohyaHash?: boolean }
  | { format: 'pt'; stem: string; vectors: number }
  | { format: 'raw'; bytes: () => Buffer }
  | { format: 'symlink'; target: string };

interface FileSpec {
  relativePath: string;
  kind: SampleKind;
  note: string;
  content: Content;
  binding?: SampleBinding;
}

const KIB = 1024;
const MIB = 1024 * 1024;

function kohya(options: {
  outputName: string;
  baseModel: string;
  title: string;
  architecture: string;
  tags: Record<string, Record<string, number>>;
  dim: number;
  alpha: number;
}): Record<string, string> {
  return {
    ss_output_name: options.outputName,
    ss_base_model_version: options.baseModel,
    ss_network_module: 'networks.lora',
    ss_network_dim: String(options.dim),
    ss_network_alpha: String(options.alpha),
    ss_num_epochs: '10',
    ss_resolution: '(1024, 1024)',
    ss_training_started_at: '1719940000.123456',
    ss_tag_frequency: JSON.stringify(options.tags),
    'modelspec.sai_model_spec': '1.0.0',
    'modelspec.architecture': options.architecture,
    'modelspec.implementation': 'https://github.com/Stability-AI/generative-models',
    'modelspec.title': options.title,
    'modelspec.date': '2025-07-02T18:00:00',
  };
}

/** The library. Order is the manifest order. */
const SPECS: FileSpec[] = [
  {
    relativePath: 'Lora/Semi-realistic illustrious v1.5.safetensors',
    kind: 'identified',
    note: 'LORA, Illustrious; model 1580878 (/models/:id fixture); sibling of the V1 file below; kohya metadata incl. sshs_model_hash',
    binding: { versionId: 1967584, modelId: 1580878 },
    content: {
      format: 'safetensors',
      arch: 'lora-sdxl',
      bytes: 200 * KIB,
      kohyaHash: true,
      metadata: kohya({
        outputName: 'Semi_realistic',
        baseModel: 'sdxl_base_v1-0',
        title: 'Semi-realistic illustrious',
        architecture: 'stable-diffusion-xl-v1-base/lora',
        tags: { '10_srealist': { Srealist: 40, '1girl': 31, 'semi-realistic': 40, 'looking at viewer': 12 } },
        dim: 8,
        alpha: 4,
      }),
    },
  },
  {
    relativePath: 'Lora/SDXL/styles/semi_realistic V1 (old).safetensors',
    kind: 'identified',
    note: 'LORA, same model 1580878 as v1.5: two local versions of one model (siblings)',
    binding: { versionId: 1788945, modelId: 1580878 },
    content: {
      format: 'safetensors',
      arch: 'lora-sdxl',
      bytes: 160 * KIB,
      metadata: kohya({
        outputName: 'Semi-realistic',
        baseModel: 'sdxl_base_v1-0',
        title: 'Semi-realistic',
        architecture: 'stable-diffusion-xl-v1-base/lora',
        tags: { '8_srealist': { Srealist: 25, portrait: 9 } },
        dim: 8,
        alpha: 8,
      }),
    },
  },
  {
    relativePath: "Lora/SD15/VSK-94 'Girls' Frontline'.safetensors",
    kind: 'identified',
    note: 'LORA, SD 1.5; model 11821 has NSFW images (levels 4/8) that by-hash hides and /images?nsfw=X returns',
    binding: { versionId: 127062, modelId: 11821 },
    content: {
      format: 'safetensors',
      arch: 'lora-sd15',
      bytes: 72 * KIB,
      metadata: {
        ss_output_name: 'VSK',
        ss_base_model_version: 'sd_v1',
        ss_network_module: 'networks.lora',
        ss_network_dim: '8',
        ss_network_alpha: '8',
        ss_sd_model_name: 'nai-full-pruned.ckpt',
        ss_tag_frequency: JSON.stringify({ '5_vsk94': { vsk94: 60, 'girls frontline': 60, gun: 21 } }),
      },
    },
  },
  {
    relativePath: 'Lora/Flux/Vivid Impressions Storybook.safetensors',
    kind: 'identified',
    note: 'LORA, Flux.1 D; model 1231067; > 2 MiB so AutoV1 applies; modelspec metadata only',
    binding: { versionId: 1387174, modelId: 1231067 },
    content: {
      format: 'safetensors',
      arch: 'lora-flux',
      bytes: 2 * MIB + 300 * KIB,
      metadata: {
        'modelspec.sai_model_spec': '1.0.0',
        'modelspec.architecture': 'flux-1-dev/lora',
        'modelspec.title': 'Vivid Impressions Storybook Style',
        format: 'pt',
      },
    },
  },
  {
    relativePath: 'Lora/video/café ñ 日本.safetensors',
    kind: 'identified',
    note: 'LORA, Hunyuan Video; the recorded by-hash wire body 1279184 (4 video previews); model 1137571 not in fixtures → /models/:id 404',
    binding: { versionId: 1279184, modelId: 1137571 },
    content: { format: 'safetensors', arch: 'lora-hunyuan', bytes: 40 * KIB },
  },
  {
    relativePath: 'Checkpoint/Illustrious/Hyphoria [Illu & NAI] #001.safetensors',
    kind: 'identified',
    note: 'Checkpoint, Illustrious; version body 1805971 with mature/explicit previews; model 1595884 not in fixtures → /models/:id 404',
    binding: { versionId: 1805971, modelId: 1595884 },
    content: {
      format: 'safetensors',
      arch: 'checkpoint',
      bytes: 3 * MIB,
      metadata: {
        'modelspec.sai_model_spec': '1.0.0',
        'modelspec.architecture': 'stable-diffusion-xl-v1-base',
        'modelspec.title': 'Hyphoria [Illu & NAI]',
        'modelspec.author': 'unknown',
      },
    },
  },
  {
    relativePath: 'Checkpoint/SD1.5/synthwavepunk_v3Alpha.safetensors',
    kind: 'identified',
    note: 'Checkpoint, SD 1.5; model 1102 version "V3 Alpha" has 3 files (ckpt, primary safetensors, VAE)',
    binding: { versionId: 1292, modelId: 1102 },
    content: { format: 'safetensors', arch: 'checkpoint', bytes: 600 * KIB },
  },
  {
    relativePath: 'Embeddings/negative/verybadimagenegative_v1.3.pt',
    kind: 'identified',
    note: 'TextualInversion (.pt, PyTorch zip); model 11772 (13 versions) only known from a /models item',
    binding: { versionId: 25820, modelId: 11772 },
    content: { format: 'pt', stem: 'verybadimagenegative_v1.3', vectors: 10 },
  },
  {
    relativePath: 'Lora/my own lora [wip].safetensors',
    kind: 'unknown',
    note: 'Not on CivitAI; kohya metadata gives a title and tags to fall back on',
    content: {
      format: 'safetensors',
      arch: 'lora-sdxl',
      bytes: 24 * KIB,
      metadata: kohya({
        outputName: 'my_own_lora',
        baseModel: 'sdxl_base_v1-0',
        title: 'My own LoRA (work in progress)',
        architecture: 'stable-diffusion-xl-v1-base/lora',
        tags: { '4_myown': { myown: 12, 'red scarf': 7 } },
        dim: 4,
        alpha: 1,
      }),
    },
  },
  {
    relativePath: 'Lora/SDXL/styles/Tom & Jerry\'s "cartoon" style.safetensors',
    kind: 'unknown',
    note: 'Not on CivitAI; no metadata; quotes and & in the name',
    content: { format: 'safetensors', arch: 'lora-sdxl', bytes: 12 * KIB },
  },
  {
    relativePath: 'Embeddings/my_embedding.safetensors',
    kind: 'unknown',
    note: 'Not on CivitAI; a safetensors textual inversion',
    content: { format: 'safetensors', arch: 'embedding', bytes: 12 * KIB, metadata: { 'modelspec.title': 'my embedding' } },
  },
  {
    relativePath: 'Lora/empty.safetensors',
    kind: 'empty',
    note: 'Zero bytes',
    content: { format: 'raw', bytes: () => Buffer.alloc(0) },
  },
  {
    relativePath: 'Lora/SDXL/truncated header.safetensors',
    kind: 'corrupt',
    note: 'Header length field (1,000,000) larger than the file',
    content: {
      format: 'raw',
      bytes: () => {
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(1_000_000n);
        return Buffer.concat([length, Buffer.from('{"__metadata__":{"ss_output_name":"trunc', 'utf8')]);
      },
    },
  },
  {
    relativePath: 'Checkpoint/not json #2.safetensors',
    kind: 'corrupt',
    note: 'Header length is in range but the header is not JSON',
    content: {
      format: 'raw',
      bytes: () => {
        const text = Buffer.from('this is not a JSON header, just text', 'utf8');
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(BigInt(text.length));
        return Buffer.concat([length, text, Buffer.alloc(64, 0xab)]);
      },
    },
  },
  {
    relativePath: 'Lora/broken link.safetensors',
    kind: 'broken-symlink',
    note: 'Symlink to a file that does not exist',
    content: { format: 'symlink', target: '../gone/missing model.safetensors' },
  },
];

/** Fixed modification times (one per file) so "sort by date" is stable too. */
const BASE_MTIME_S = Date.UTC(2025, 0, 1) / 1000;

async function buildBytes(spec: FileSpec): Promise<Buffer> {
  const c = spec.content;
  switch (c.format) {
    case 'safetensors': {
      const tensors = tensorsFor(c.arch, c.bytes);
      const data = tensorData(tensors, spec.relativePath);
      let metadata = c.metadata;
      if (c.kohyaHash) {
        metadata = { ...metadata, sshs_model_hash: createHash('sha256').update(data).digest('hex') };
      }
      return buildSafetensors(tensors, data, metadata);
    }
    case 'pt':
      return buildTorchEmbedding(c.stem, c.vectors, spec.relativePath);
    case 'raw':
      return c.bytes();
    case 'symlink':
      throw new Error('symlinks have no bytes');
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await lstat(path);
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Writes the library under `dir` (created if needed; files of the library are overwritten, other
 * files are left alone) and its manifest (`MANIFEST_FILE`). Same bytes, same hashes on every run.
 */
export async function generateSampleLibrary(dir: string): Promise<SampleLibrary> {
  const root = resolve(dir);
  const entries: SampleEntry[] = [];
  let index = 0;
  for (const spec of SPECS) {
    const path = join(root, ...spec.relativePath.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await removeIfPresent(path);
    const entry: SampleEntry = { relativePath: spec.relativePath, kind: spec.kind, size: 0, note: spec.note };
    if (spec.content.format === 'symlink') {
      await symlink(spec.content.target, path);
    } else {
      const bytes = await buildBytes(spec);
      await writeFile(path, bytes);
      const mtime = BASE_MTIME_S + index * 86_400;
      await utimes(path, mtime, mtime);
      entry.size = bytes.length;
      entry.hashes = await civitaiHashes(bytes, { safetensors: spec.content.format !== 'pt' });
      entry.sha256 = entry.hashes.SHA256;
    }
    if (spec.binding) entry.binding = { ...spec.binding };
    entries.push(entry);
    index += 1;
  }
  const library: SampleLibrary = { version: 1, root, entries };
  await writeFile(join(root, MANIFEST_FILE), `${JSON.stringify(library, null, 2)}\n`);
  return library;
}

/** Reads the manifest a previous `generateSampleLibrary(dir)` wrote. */
export async function loadSampleLibrary(dir: string): Promise<SampleLibrary> {
  const text = await readFile(join(resolve(dir), MANIFEST_FILE), 'utf8');
  return JSON.parse(text) as SampleLibrary;
}
