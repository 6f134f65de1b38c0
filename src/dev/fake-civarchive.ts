/**
 * A fake CivArchive (civarchive.com/api) on 127.0.0.1 for tests, plus a builder of a small
 * ComfyUI-Lora-Manager archive SQLite from API bodies. `GET /api/sha256/:hash` answers
 * `{ data: { ...model context, version } }` in CivArchive's shape (snake_case context,
 * `trigger` for trained words, `files[].sha256`), a JSON 404 for an unknown hash, and whatever
 * `fault` says otherwise. No internet: bodies come from what the caller hands in (recorded
 * CivitAI bodies served by the fake CivitAI).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Body = Record<string, unknown>;

export interface ArchiveEntry {
  /** A CivitAI version body (as GET /model-versions/:id answers). */
  version: Body;
  /** Its parent model (as GET /models/:id answers). */
  model?: Body;
}

export type CivarchiveFault = 'none' | '500' | 'html-404' | 'hang';

export interface FakeCivarchive {
  url: string;
  /** `${url}/api`, the value for `sources.civarchive.base_url`. */
  baseUrl: string;
  requests: { method: string; path: string }[];
  setFault(fault: CivarchiveFault): void;
  close(): Promise<void>;
}

/** CivitAI's version + model → CivArchive's `/sha256/:hash` body. */
export function toCivarchiveBody(entry: ArchiveEntry): Body {
  const { version, model = {} } = entry;
  const { trainedWords, files, stats, ...rest } = version as Body & { trainedWords?: unknown; files?: Body[]; stats?: Body };
  const versionModel = (version.model ?? {}) as Body;
  return {
    data: {
      id: version.modelId ?? model.id,
      name: model.name ?? versionModel.name,
      type: model.type ?? versionModel.type,
      description: model.description ?? null,
      tags: model.tags ?? [],
      is_nsfw: model.nsfw ?? versionModel.nsfw ?? false,
      creator_username: (model.creator as Body | undefined)?.username ?? null,
      version: {
        ...rest,
        trigger: trainedWords ?? [],
        ...(stats ?? {}),
        files: (files ?? []).map((file) => ({
          id: file.id,
          name: file.name,
          type: file.type,
          sizeKB: file.sizeKB,
          sha256: String((file.hashes as Body | undefined)?.SHA256 ?? '').toLowerCase(),
          mirrors: [{ filename: file.name, url: `https://civarchive.example/${String(file.name)}`, deletedAt: null }],
        })),
      },
    },
  };
}

export async function startFakeCivarchive(entries: readonly ArchiveEntry[]): Promise<FakeCivarchive> {
  const bySha = new Map<string, Body>();
  for (const entry of entries) {
    for (const file of (entry.version.files ?? []) as Body[]) {
      const sha = String((file.hashes as Body | undefined)?.SHA256 ?? '').toLowerCase();
      if (sha) bySha.set(sha, toCivarchiveBody(entry));
    }
  }
  let fault: CivarchiveFault = 'none';
  const requests: { method: string; path: string }[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? 'GET', path: url.pathname });
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (fault === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (fault === '500') return send(500, JSON.stringify({ error: 'Internal Server Error' }));
    if (fault === 'html-404') return send(404, '<html><body>Not Found</body></html>', 'text/html');
    const m = /^\/api\/sha256\/([0-9a-fA-F]{64})$/.exec(url.pathname);
    if (!m) return send(404, JSON.stringify({ error: 'Not found' }));
    const body = bySha.get((m[1] as string).toLowerCase());
    if (!body) return send(404, JSON.stringify({ error: 'Model not found' }));
    return send(200, JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/api`,
    requests,
    setFault: (next) => {
      fault = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Writes ComfyUI-Lora-Manager's archive format (tables `models`, `model_versions`,
 * `model_files`; `data` holds the API's JSON) with node:sqlite.
 */
export async function buildArchiveDb(file: string, entries: readonly ArchiveEntry[]): Promise<void> {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(file);
  try {
    db.exec(`
      CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT, type TEXT, data TEXT, username TEXT);
      CREATE TABLE model_versions (id INTEGER PRIMARY KEY, model_id INTEGER, name TEXT, base_model TEXT, data TEXT, position INTEGER, published_at TEXT);
      CREATE TABLE model_files (id INTEGER PRIMARY KEY AUTOINCREMENT, model_id INTEGER, version_id INTEGER, sha256 TEXT);
      CREATE INDEX model_files_sha256 ON model_files (sha256);
    `);
    const insertModel = db.prepare('INSERT OR REPLACE INTO models (id, name, type, data, username) VALUES (?, ?, ?, ?, ?)');
    const insertVersion = db.prepare(
      'INSERT OR REPLACE INTO model_versions (id, model_id, name, base_model, data, position, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const insertFile = db.prepare('INSERT INTO model_files (model_id, version_id, sha256) VALUES (?, ?, ?)');
    for (const { version, model } of entries) {
      const modelId = Number(version.modelId ?? model?.id);
      if (model) {
        const { modelVersions, ...modelRest } = model;
        void modelVersions;
        insertModel.run(modelId, String(model.name ?? ''), String(model.type ?? ''), JSON.stringify(modelRest), String((model.creator as Body | undefined)?.username ?? ''));
      }
      const position = ((model?.modelVersions ?? []) as Body[]).findIndex((entry) => entry.id === version.id);
      insertVersion.run(
        Number(version.id),
        modelId,
        String(version.name ?? ''),
        String(version.baseModel ?? ''),
        JSON.stringify(version),
        Math.max(0, position),
        String(version.publishedAt ?? ''),
      );
      for (const fileBody of (version.files ?? []) as Body[]) {
        const sha = (fileBody.hashes as Body | undefined)?.SHA256;
        if (sha) insertFile.run(modelId, Number(version.id), String(sha).toLowerCase());
      }
    }
  } finally {
    db.close();
  }
}
