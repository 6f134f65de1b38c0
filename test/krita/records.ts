/** Records and files shared by the Krita tests. */
import { copyFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';

export const FIXTURES = new URL('../fixtures/krita/', import.meta.url).pathname;
export const ROOT = '/models/Lora';

export const SHA = {
  /** sha256("detail tweaker v2 bytes"); Krita's base64 form is in loras.json. */
  tweaker: 'E6A3154E6197BE78E5AA70F931640828B6A5668E57ACB3209419162DBA289EDC',
  pixel: 'DE03883704CBC2FCC091AB58D8288865B60D19509CBFD1BD19CA1BC929C7F3BB',
};

let nextId = 1;

export function record(relativePath: string, trainedWords?: string[], sha256?: string, root = ROOT): ModelRecord {
  const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
  const folder = relativePath.includes('/') ? relativePath.slice(0, relativePath.lastIndexOf('/')) : '';
  const ext = name.slice(name.lastIndexOf('.')).toLowerCase();
  const id = nextId++;
  return {
    id: `r${id}`,
    file: {
      path: `${root}/${relativePath}`,
      inputPathId: 'loras',
      inputType: 'LORA',
      relativePath,
      folder,
      name,
      stem: name.slice(0, name.length - ext.length),
      ext,
      size: 1000 + id,
      mtimeMs: 1_700_000_000_000,
    },
    hashes: sha256 ? { SHA256: sha256 } : {},
    civitai: { status: trainedWords ? 'identified' : 'not-found' },
    ...(trainedWords ? { version: { id: 100 + id, trainedWords } } : {}),
    images: [],
    problems: [],
  };
}

/** Our library, matching test/fixtures/krita/loras.json. */
export function library() {
  const r = {
    pixel: record('SDXL/style/Pixel_Art_XL.safetensors', ['pixel art', 'pixelated,'], SHA.pixel),
    miku: record('sd15/characters/hatsune-miku.safetensors', ['hatsune miku', 'twintails', 'aqua hair']),
    tweaker: record('downloads/detail-tweaker-v2.safetensors', ['detailed'], SHA.tweaker),
    flux: record('flux/Flux_Realism.safetensors', ['realism', 'photo']),
    sakura: record('sakura.safetensors', ['桜の花', 'café style,', '  ', '1girl', '1GIRL']),
    addDetail: record('detail/add_detail.safetensors', ['add detail']),
    mystery: record('unknown/mystery.safetensors'),
    watercolor: record('styles/watercolor.safetensors', ['watercolor']),
    pose: record('poses/dynamic-pose.safetensors', ['dynamic pose']),
  };
  return { byName: r, records: Object.values(r) };
}

export interface Sandbox {
  dir: string;
  file: string;
  cleanup(): Promise<void>;
}

/** A temporary folder holding a copy of a fixture as `loras.json`. */
export async function sandbox(fixture = 'loras.json'): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'krita-'));
  const file = path.join(dir, 'loras.json');
  await copyFile(path.join(FIXTURES, fixture), file);
  return { dir, file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function fileState(file: string) {
  const [bytes, info] = await Promise.all([readFile(file), stat(file)]);
  return { bytes, mtimeMs: info.mtimeMs, ino: info.ino };
}

export async function backupsIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('loras.json.bak-')).sort();
}

/** Parses like Krita's `read_json_with_comments`. */
export function readLikeKrita(text: string): Record<string, unknown>[] {
  return JSON.parse(
    text
      .split(/\r?\n/)
      .map((line) => (line.trim().startsWith('//') ? '' : line))
      .join('\n'),
  ) as Record<string, unknown>[];
}

export function metadataOf(entries: Record<string, unknown>[], id: string): Record<string, unknown> | undefined {
  const entry = entries.find((item) => item.id === id);
  if (!entry) throw new Error(`no entry ${id}`);
  return entry.metadata as Record<string, unknown> | undefined;
}
