/**
 * ComfyUI-Lora-Manager's offline metadata archive (the `civitai.zip` SQLite): tables
 * `models(id, name, type, data, username)`, `model_versions(id, model_id, name, base_model,
 * data, position, published_at)` and `model_files(model_id, version_id, sha256)`, where `data`
 * holds API-shaped JSON. Opened read only; a hash is looked up in `model_files`, and the version
 * and its parent model are rebuilt in the API's shape so the rest of the engine is unchanged.
 */
import { existsSync } from 'node:fs';
import { ModelSchema, ModelVersionSchema, type Model, type ModelVersion } from '../civitai/schemas.ts';
import type { IdentifySource, SourceAnswer } from './types.ts';

type Row = Record<string, unknown>;
interface Db {
  prepare(sql: string): { all(...params: unknown[]): Row[]; get(...params: unknown[]): Row | undefined };
  close(): void;
}

export class ArchiveDbError extends Error {
  override name = 'ArchiveDbError';
}

/** Opens the archive read only; throws ArchiveDbError naming the path when it cannot be used. */
export async function openArchiveDb(file: string): Promise<ArchiveDb> {
  if (!existsSync(file)) throw new ArchiveDbError(`sources.archive_db: ${file} does not exist`);
  let db: Db;
  try {
    const sqlite = await import('node:sqlite');
    db = new sqlite.DatabaseSync(file, { readOnly: true }) as unknown as Db;
    db.prepare('SELECT 1 FROM model_files LIMIT 1').all();
  } catch (error) {
    throw new ArchiveDbError(`sources.archive_db: ${file} cannot be read as an archive (${error instanceof Error ? error.message : String(error)})`);
  }
  return new ArchiveDb(db, file);
}

export class ArchiveDb {
  private readonly models = new Map<number, Model | undefined>();
  private readonly db: Db;
  readonly file: string;
  /** Lookups made (by hash, and versions asked by id): the run report counts them like requests. */
  lookups = 0;
  constructor(db: Db, file: string) {
    this.db = db;
    this.file = file;
  }

  /** The version (with `model` filled in) and its parent model for a SHA-256, or undefined. */
  findBySha256(sha256: string): { version: ModelVersion; model?: Model } | undefined {
    this.lookups += 1;
    const row = this.db
      // Both spellings, so an index on sha256 serves the lookup (archives store lower case).
      .prepare('SELECT model_id, version_id FROM model_files WHERE sha256 IN (?, ?) ORDER BY version_id DESC LIMIT 1')
      .get(sha256.toLowerCase(), sha256.toUpperCase());
    if (!row) return undefined;
    return this.rebuildVersion(Number(row.version_id), sha256);
  }

  findVersion(versionId: number): { version: ModelVersion; model?: Model } | undefined {
    this.lookups += 1;
    return this.rebuildVersion(versionId);
  }

  private rebuildVersion(versionId: number, sha256?: string): { version: ModelVersion; model?: Model } | undefined {
    const row = this.db.prepare('SELECT id, model_id, name, base_model, data, published_at FROM model_versions WHERE id = ?').get(versionId);
    if (!row) return undefined;
    const model = this.model(Number(row.model_id));
    const body = { ...parseJson(row.data) } as Record<string, unknown>;
    body.id = Number(row.id);
    body.modelId = Number(row.model_id);
    if (row.name != null && body.name == null) body.name = String(row.name);
    if (row.base_model != null && body.baseModel == null) body.baseModel = String(row.base_model);
    if (row.published_at != null && body.publishedAt == null) body.publishedAt = String(row.published_at);
    if (!Array.isArray(body.files)) body.files = [];
    const files = body.files as Record<string, unknown>[];
    if (sha256 && !files.some((file) => String((file.hashes as Row | undefined)?.SHA256 ?? '').toUpperCase() === sha256.toUpperCase())) {
      files.push({ name: '', type: 'Model', primary: true, hashes: { SHA256: sha256.toUpperCase() } });
    }
    if (model && (body.model == null || typeof body.model !== 'object')) {
      body.model = { name: model.name, type: model.type, nsfw: model.nsfw ?? false, ...(model.poi !== undefined ? { poi: model.poi } : {}) };
    }
    const parsed = ModelVersionSchema.safeParse(body);
    if (!parsed.success) return undefined;
    return { version: parsed.data, ...(model ? { model } : {}) };
  }

  /** The parent model with every version it has in the archive (by `position`). */
  model(id: number): Model | undefined {
    if (this.models.has(id)) return this.models.get(id);
    const row = this.db.prepare('SELECT id, name, type, data, username FROM models WHERE id = ?').get(id);
    let model: Model | undefined;
    if (row) {
      const body = { ...parseJson(row.data) } as Record<string, unknown>;
      body.id = Number(row.id);
      if (row.name != null && body.name == null) body.name = String(row.name);
      if (row.type != null && body.type == null) body.type = String(row.type);
      const creator = (body.creator && typeof body.creator === 'object' ? body.creator : {}) as Row;
      if (row.username != null && creator.username == null) body.creator = { ...creator, username: String(row.username) };
      if (!Array.isArray(body.modelVersions) || body.modelVersions.length === 0) {
        body.modelVersions = this.db
          .prepare('SELECT id, name, base_model, data, published_at FROM model_versions WHERE model_id = ? ORDER BY position, id DESC')
          .all(id)
          .map((version) => {
            const { images, files, description, ...rest } = parseJson(version.data) as Row;
            void images;
            void files;
            void description;
            return {
              ...rest,
              id: Number(version.id),
              name: rest.name ?? version.name ?? '',
              ...(version.base_model != null ? { baseModel: rest.baseModel ?? version.base_model } : {}),
              ...(version.published_at != null ? { publishedAt: rest.publishedAt ?? version.published_at } : {}),
            };
          });
      }
      const parsed = ModelSchema.safeParse(body);
      model = parsed.success ? parsed.data : undefined;
    }
    this.models.set(id, model);
    return model;
  }

  close(): void {
    this.db.close();
  }
}

function parseJson(value: unknown): Row {
  if (typeof value !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Row) : {};
  } catch {
    return {};
  }
}

export function archiveDbSource(archive: ArchiveDb): IdentifySource {
  return {
    name: 'archive_db',
    local: true,
    async lookup(sha256s) {
      const out = new Map<string, SourceAnswer>();
      for (const hash of sha256s) {
        try {
          const found = archive.findBySha256(hash);
          out.set(hash, found ? { status: 'identified', ...found } : { status: 'not-found' });
        } catch (error) {
          out.set(hash, { status: 'unknown', error: `archive ${archive.file}: ${error instanceof Error ? error.message : String(error)}` });
        }
      }
      return out;
    },
    close: () => archive.close(),
  };
}
