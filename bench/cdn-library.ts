/**
 * A library of identified models with a few SFW previews each, and the fixtures that make the
 * fake CivitAI know them: what the CDN pacing test (test/perf/cdn-pacing.test.ts) and the CDN
 * rate bench (bench/cdn.ts) download from. Every file is a tiny safetensors of its own; every
 * model has one version, so a run asks the API twice (by-hash, then the parent models) whatever
 * the library's size, and everything else it fetches is previews.
 */
import { createHash } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CatalogBinding } from '../src/dev/fake-civitai/index.ts';

export interface CdnLibrary {
  /** The model files (one folder, `model-<n>.safetensors`). */
  libraryDir: string;
  /** `fixturesDir` for startFakeCivitai. */
  fixturesDir: string;
  bindings: CatalogBinding[];
  /** The CivitAI image URLs, in model order (the fake serves them under its /cdn/). */
  imageUrls: string[];
}

export interface CdnLibraryOptions {
  /** Identified model files (one model and version each). */
  models: number;
  previews: number;
  /**
   * Distinct pictures behind the preview URLs (default: one per URL). The fake renders each
   * picture once per size; a small pool keeps a bench of 20,000 previews measuring the engine
   * rather than the fake's renderer. Every URL stays distinct, so nothing is fetched once for two.
   */
  pictures?: number;
  /** Files CivitAI does not know (404 on lookup), besides the identified ones. */
  unknown?: number;
}

export async function writeCdnLibrary(dir: string, options: CdnLibraryOptions): Promise<CdnLibrary> {
  const libraryDir = path.join(dir, 'library');
  const fixturesDir = path.join(dir, 'fixtures');
  await mkdir(libraryDir, { recursive: true });
  await mkdir(fixturesDir, { recursive: true });
  const old = new Date(Date.now() - 3600_000);
  const models: Record<string, unknown>[] = [];
  const bindings: CatalogBinding[] = [];
  const imageUrls: string[] = [];
  for (let index = 0; index < options.models; index += 1) {
    const versionId = 7_000_000 + index;
    const bytes = tinySafetensors(`cdn-library ${index}`);
    const file = path.join(libraryDir, `model-${index}.safetensors`);
    await writeFile(file, bytes);
    await utimes(file, old, old);
    bindings.push({ sha256: createHash('sha256').update(bytes).digest('hex').toUpperCase(), size: bytes.length, versionId });
    const images = Array.from({ length: options.previews }, (_, n) => {
      const picture = options.pictures ? String((index * options.previews + n) % options.pictures) : `${index}-${n}`;
      const url = `https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/${uuidOf(picture)}/width=832/${versionId * 10 + n}.jpeg`;
      imageUrls.push(url);
      return { url, nsfwLevel: 1, width: 832, height: 1216, type: 'image', hasMeta: false };
    });
    models.push({
      id: 6_000_000 + index,
      name: `CDN Model ${index}`,
      type: 'LORA',
      nsfw: false,
      poi: false,
      creator: { username: 'bench', image: null },
      tags: ['bench'],
      stats: { downloadCount: index },
      modelVersions: [
        {
          id: versionId,
          name: 'v1.0',
          baseModel: 'SDXL 1.0',
          nsfwLevel: 1,
          status: 'Published',
          createdAt: '2025-01-01T00:00:00.000Z',
          publishedAt: '2025-01-01T00:00:00.000Z',
          trainedWords: [],
          files: [{ id: versionId + 1, name: 'model.safetensors', sizeKB: 1, type: 'Model', primary: true, hashes: {} }],
          images,
        },
      ],
    });
  }
  for (let index = 0; index < (options.unknown ?? 0); index += 1) {
    const file = path.join(libraryDir, `unknown-${index}.safetensors`);
    await writeFile(file, tinySafetensors(`cdn-library unknown ${index}`));
    await utimes(file, old, old);
  }
  await writeFile(path.join(fixturesDir, 'models-list_cdn-library.json'), JSON.stringify({ items: models, metadata: {} }));
  return { libraryDir, fixturesDir, bindings, imageUrls };
}

function tinySafetensors(seed: string): Buffer {
  const data = createHash('sha256').update(seed).digest();
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

function uuidOf(seed: string): string {
  const hex = createHash('sha256').update(`cdn-image ${seed}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
