/** Fixture records, temp libraries and tree snapshots for the organizer tests. */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OrganizationSchema, OutputSchema, type OrganizationConfig, type OutputConfig } from '../../src/integration/engine/config/schema.ts';
import { ModelRecordSchema, type ModelRecord, type ModelRecordInput } from '../../src/integration/engine/records/schema.ts';

export interface FixtureModel {
  /** Absolute path of the model file. */
  path: string;
  /** Root of the input path it was found under. */
  root?: string;
  inputType?: string;
  modelName?: string | null;
  versionName?: string;
  type?: string | null;
  creator?: string | null;
  baseModel?: string | null;
  nsfw?: boolean;
  nsfwLevel?: number;
  modelNsfwLevel?: number;
  createdAt?: string | null;
  stats?: { rating?: number; ratingCount?: number; downloadCount?: number; thumbsUpCount?: number } | null;
  sha256?: string;
  size?: number;
  identified?: boolean;
  sidecarPath?: string;
  images?: string[];
  versionId?: number;
  modelId?: number;
}

/** A ModelRecord shaped like the engine builds it from a real by-hash + /models/:id answer. */
export function makeRecord(fixture: FixtureModel): ModelRecord {
  const root = fixture.root ?? path.dirname(fixture.path);
  const relativePath = path.relative(root, fixture.path).split(path.sep).join('/');
  const ext = path.extname(fixture.path).toLowerCase();
  const name = path.basename(fixture.path);
  const stem = path.basename(fixture.path, path.extname(fixture.path));
  const folder = path.posix.dirname(relativePath) === '.' ? '' : path.posix.dirname(relativePath);
  const versionId = fixture.versionId ?? 128713;
  const modelId = fixture.modelId ?? 82098;
  const modelName = fixture.modelName === undefined ? 'Detail Tweaker LoRA' : fixture.modelName;
  const type = fixture.type === undefined ? 'LORA' : fixture.type;
  const stats = fixture.stats === undefined ? { downloadCount: 61234, ratingCount: 0, rating: 0, thumbsUpCount: 8412 } : fixture.stats;
  const input: ModelRecordInput = {
    id: `${stem}-${versionId}`,
    file: { path: fixture.path, inputPathId: 'loras', inputType: fixture.inputType ?? 'LORA', relativePath, folder, name, stem, ext, size: fixture.size ?? 0, mtimeMs: 1_700_000_000_000 },
    hashes: fixture.sha256 ? { SHA256: fixture.sha256, AutoV2: fixture.sha256.slice(0, 10) } : {},
    civitai: { status: fixture.identified === false ? 'not-found' : 'identified', checkedAt: '2026-08-20T10:00:00.000Z' },
    ...(fixture.identified === false
      ? {}
      : {
          version: {
            id: versionId,
            modelId,
            name: fixture.versionName ?? 'v1.0',
            nsfwLevel: fixture.nsfwLevel ?? 1,
            ...(fixture.createdAt === null ? {} : { createdAt: fixture.createdAt ?? '2023-05-13T02:31:44.469Z' }),
            ...(fixture.baseModel === null ? {} : { baseModel: fixture.baseModel ?? 'SD 1.5' }),
            baseModelType: 'Standard',
            trainedWords: [],
            ...(stats === null ? {} : { stats }),
            model: { ...(modelName === null ? {} : { name: modelName }), ...(type === null ? {} : { type }), nsfw: fixture.nsfw ?? false, poi: false },
            files: [{ id: 1, name, primary: true, hashes: fixture.sha256 ? { SHA256: fixture.sha256 } : {} }],
            images: [],
          },
          model: {
            id: modelId,
            ...(modelName === null ? {} : { name: modelName }),
            ...(type === null ? {} : { type }),
            nsfw: fixture.nsfw ?? false,
            nsfwLevel: fixture.modelNsfwLevel ?? fixture.nsfwLevel ?? 1,
            ...(fixture.creator === null ? {} : { creator: { username: fixture.creator ?? 'lrabbit' } }),
            tags: ['detail', 'tool'],
          },
        }),
    images: (fixture.images ?? []).map((image) => ({ path: image, url: `https://image.civitai.com/x/${path.basename(image)}`, type: 'image' as const, nsfwLevel: 1 })),
    ...(fixture.sidecarPath ? { sidecarPath: fixture.sidecarPath } : {}),
    problems: [],
  };
  return ModelRecordSchema.parse(input);
}

export function organization(overrides: Partial<OrganizationConfig> & { output_dir: string }): OrganizationConfig {
  return OrganizationSchema.parse({ enabled: true, operation_mode: 'move', on_collision: 'skip', ...overrides });
}

export function output(overrides: Record<string, unknown> = {}): OutputConfig {
  return OutputSchema.parse(overrides);
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex').toUpperCase();
}

/** Deterministic pseudo-random bytes (so a seed gives the same library every time). */
export function bytesFor(label: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(label).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset, 0, Math.min(block.length, size - offset));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export function writeFile(file: string, content: Buffer | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

export type TreeEntry = { kind: 'dir' } | { kind: 'file'; sha256: string; size: number; mode: number } | { kind: 'symlink'; target: string };

/** Every entry under `root`, relative path → content (files by SHA-256, symlinks by link text). */
export function snapshot(root: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full).split(path.sep).join('/');
      const stats = lstatSync(full);
      if (stats.isSymbolicLink()) out[rel] = { kind: 'symlink', target: readlinkSync(full) };
      else if (stats.isDirectory()) {
        out[rel] = { kind: 'dir' };
        walk(full);
      } else out[rel] = { kind: 'file', sha256: sha256(readFileSync(full)), size: stats.size, mode: stats.mode & 0o777 };
    }
  };
  walk(root);
  return out;
}

/** A stable digest of a whole tree (names, types, contents, modes, mtimes). */
export function treeChecksum(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const stats = lstatSync(full, { bigint: true });
      hash.update(`${path.relative(root, full)}\0${stats.mode}\0${stats.mtimeNs}\0${stats.size}\0`);
      if (stats.isSymbolicLink()) hash.update(readlinkSync(full));
      else if (stats.isDirectory()) walk(full);
      else hash.update(readFileSync(full));
    }
  };
  walk(root);
  return hash.digest('hex');
}

/** Content hash → relative paths holding it (regular files only). */
export function contentIndex(root: string): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const [rel, entry] of Object.entries(snapshot(root))) {
    if (entry.kind !== 'file') continue;
    index.set(entry.sha256, [...(index.get(entry.sha256) ?? []), rel]);
  }
  return index;
}

export interface LibraryModel {
  /** Path of the model file relative to the library root, with `/`. */
  rel: string;
  /** Suffixes of files written beside it as `{stem}.{suffix}` (e.g. `json`, `preview1.jpeg`). */
  companions?: string[];
  size?: number;
  fixture?: Partial<FixtureModel>;
}

/** Writes models and their sidecars under `root` and returns the records the engine would have. */
export function buildLibrary(root: string, models: LibraryModel[]): ModelRecord[] {
  return models.map((model) => {
    const file = path.join(root, ...model.rel.split('/'));
    const stem = path.basename(file, path.extname(file));
    const content = bytesFor(model.rel, model.size ?? 4096);
    writeFile(file, content);
    const companions = (model.companions ?? []).map((suffix) => path.join(path.dirname(file), `${stem}.${suffix}`));
    for (const companion of companions) writeFile(companion, companion.endsWith('.json') ? `{"name":"${stem}"}\n` : bytesFor(companion, 700));
    return makeRecord({
      path: file,
      root,
      sha256: sha256(content),
      size: content.length,
      sidecarPath: companions.find((companion) => companion.endsWith(`${stem}.json`)),
      images: companions.filter((companion) => /\.preview\d+\./.test(companion)),
      ...model.fixture,
    });
  });
}
