import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrorBodySchema,
  ImageListSchema,
  ModelListSchema,
  ModelSchema,
  ModelVersionSchema,
  type ModelVersion,
} from '../src/integration/engine/civitai/schemas.ts';
import { HASH_TYPES } from '../src/integration/engine/records/schema.ts';
import { FaultInjector } from '../src/dev/fake-civitai/faults.ts';
import {
  PNG_AS_JPEG_UUID,
  startFakeCivitai,
  type FakeCivitai,
  type FaultKind,
} from '../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, type SampleEntry, type SampleLibrary } from '../src/dev/sample-library/index.ts';

const FIXTURES = join(import.meta.dirname, '../src/dev/fixtures/civitai');

let dir: string;
let library: SampleLibrary;
let fake: FakeCivitai;

interface Answer {
  status: number;
  type: string;
  text: string;
  headers: Headers;
}

async function call(path: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(path.startsWith('http') ? path : fake.apiBaseUrl + path, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
}
const getJson = async (path: string, init?: RequestInit): Promise<{ status: number; body: unknown; text: string; type: string }> => {
  const a = await call(path, init);
  return { status: a.status, body: JSON.parse(a.text) as unknown, text: a.text, type: a.type };
};
const post = (path: string, body: unknown) =>
  getJson(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
async function bytesOf(url: string): Promise<{ status: number; type: string; bytes: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', bytes: Buffer.from(await res.arrayBuffer()) };
}

const entryFor = (versionId: number): SampleEntry => {
  const entry = library.entries.find((e) => e.binding?.versionId === versionId);
  if (!entry) throw new Error(`no sample bound to ${versionId}`);
  return entry;
};
const sha = (versionId: number): string => entryFor(versionId).sha256 ?? '';
const primary = (v: ModelVersion) => v.files?.find((f) => f.primary) ?? v.files?.[0];
const levelOf = (image: { nsfwLevel?: unknown }) => (typeof image.nsfwLevel === 'number' ? image.nsfwLevel : 1);
const isJpeg = (b: Buffer) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const isPng = (b: Buffer) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fake-civitai-'));
  library = await generateSampleLibrary(dir);
  fake = await startFakeCivitai({ library });
}, 60_000);

afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.setFaults({});
});

describe('GET /model-versions/by-hash/:hash', () => {
  it('serves every identified sample file with its own hashes, in the version shape', async () => {
    for (const entry of library.entries.filter((e) => e.binding)) {
      const { status, body, type, text } = await getJson(`/model-versions/by-hash/${entry.sha256}`);
      expect(status, entry.relativePath).toBe(200);
      expect(type).toMatch(/^application\/json/);
      expect(text).toBe(JSON.stringify(JSON.parse(text))); // compact on the wire
      const version = ModelVersionSchema.parse(body);
      expect(version.id).toBe(entry.binding?.versionId);
      expect(version.modelId).toBe(entry.binding?.modelId);
      expect(version.model?.name).toBeTruthy();
      expect(version.model?.type).toBeTruthy();
      const file = primary(version);
      expect(file?.hashes).toEqual(entry.hashes);
      expect(file?.sizeKB).toBe(entry.size / 1024);
      expect(version.images?.length ?? 0).toBeLessThanOrEqual(10);
      for (const values of version.files ?? []) {
        for (const [key, value] of Object.entries(values.hashes ?? {})) {
          expect(HASH_TYPES).toContain(key);
          expect(value).toMatch(/^[0-9A-F]+$/);
        }
      }
    }
  });

  it('matches any hash type, case-insensitively', async () => {
    const flux = entryFor(1387174);
    const types = Object.entries(flux.hashes ?? {});
    expect(types.map(([k]) => k).sort()).toEqual([...HASH_TYPES].sort());
    for (const [, value] of types) {
      for (const form of [value, value.toLowerCase()]) {
        const { status, body } = await getJson(`/model-versions/by-hash/${form}`);
        expect(status).toBe(200);
        expect((body as { id: number }).id).toBe(1387174);
      }
    }
  });

  it('answers 404 {"error":"Model not found"} for unknown hashes (incl. the unknown sample files)', async () => {
    for (const entry of library.entries.filter((e) => e.kind === 'unknown' || e.kind === 'empty')) {
      const a = await call(`/model-versions/by-hash/${entry.sha256}`);
      expect(a.status).toBe(404);
      expect(a.text).toBe('{"error":"Model not found"}');
      expect(a.type).toMatch(/^application\/json/);
      ErrorBodySchema.parse(JSON.parse(a.text));
    }
  });

  it('resolves real recorded hashes of other fixture versions, and not the re-keyed ones', async () => {
    // EasyNegative (model 7808) from the 2025 list; never bound to a sample file.
    const list = JSON.parse(await readFile(join(FIXTURES, 'models-list_limit10_cursor_2025-08.json'), 'utf8')) as {
      items: { id: number; modelVersions: { id: number; files: { hashes: Record<string, string> }[] }[] }[];
    };
    const easy = list.items.find((m) => m.id === 7808)?.modelVersions[0];
    const real = easy?.files[0]?.hashes.SHA256 ?? '';
    const hit = await getJson(`/model-versions/by-hash/${real.toLowerCase()}`);
    expect(hit.status).toBe(200);
    const version = ModelVersionSchema.parse(hit.body);
    expect(version.id).toBe(easy?.id);
    expect(version.modelId).toBe(7808);
    expect(version.model).toMatchObject({ name: 'EasyNegative', type: 'TextualInversion' });

    // The recorded SHA256 of 1279184's file was replaced by the sample file's.
    const wire = JSON.parse(await readFile(join(FIXTURES, 'model-version_1279184_lora_by-hash_wire.json'), 'utf8'));
    const old = (await call(`/model-versions/by-hash/${wire.files[0].hashes.SHA256}`)).status;
    expect(old).toBe(404);
  });

  it('synthesises the version shape for versions only known from /models bodies', async () => {
    const { status, body } = await getJson(`/model-versions/by-hash/${sha(25820)}`);
    expect(status).toBe(200);
    const v = ModelVersionSchema.parse(body);
    expect(v).toMatchObject({ id: 25820, modelId: 11772, model: { name: 'veryBadImageNegative', type: 'TextualInversion' } });
    expect(v.air).toBe('urn:air:sd1:embedding:civitai:11772@25820');
    expect(primary(v)?.name).toBe('verybadimagenegative_v1.3.pt');
    expect(primary(v)?.hashes?.AutoV3).toBeUndefined();
    expect((body as Record<string, unknown>).index).toBeUndefined();
  });

  it('hides NSFW previews (level > 1) from version bodies; /images has them', async () => {
    for (const versionId of [127062, 1805971]) {
      const { body } = await getJson(`/model-versions/by-hash/${sha(versionId)}`);
      const images = ModelVersionSchema.parse(body).images ?? [];
      expect(images.length).toBeGreaterThan(0);
      expect(images.every((i) => levelOf(i) === 1)).toBe(true);
      const feed = ImageListSchema.parse((await getJson(`/images?modelVersionId=${versionId}&nsfw=X`)).body);
      expect(feed.items.some((i) => (i.browsingLevel ?? 0) > 1)).toBe(true);
      expect(feed.items.length).toBeGreaterThan(images.length);
    }
  });

  it('serves the by-hash wire body 1279184 with its video previews', async () => {
    const { body } = await getJson(`/model-versions/by-hash/${sha(1279184)}`);
    const v = ModelVersionSchema.parse(body);
    expect(v.images).toHaveLength(4);
    expect(v.images?.every((i) => i.type === 'video')).toBe(true);
    expect(v.baseModel).toBe('Hunyuan Video');
  });

  it('400 for an empty hash', async () => {
    const a = await call('/model-versions/by-hash/');
    expect(a.status).toBe(400);
  });
});

describe('POST /model-versions/by-hash and /by-hash/ids', () => {
  it('returns a bare array, drops misses silently, not in request order', async () => {
    const hashes = [sha(1967584), '0'.repeat(64), sha(127062), sha(1292), sha(1788945).toLowerCase()];
    const { status, body } = await post('/model-versions/by-hash', hashes);
    expect(status).toBe(200);
    expect(Array.isArray(body)).toBe(true);
    const versions = (body as unknown[]).map((v) => ModelVersionSchema.parse(v));
    expect(versions.map((v) => v.id).sort()).toEqual([1292, 127062, 1788945, 1967584].sort());
    expect(versions.map((v) => v.id)).not.toEqual([1967584, 127062, 1292, 1788945]);
    for (const v of versions) {
      expect(v.images?.every((i) => levelOf(i) === 1)).toBe(true);
      expect(hashes.map((h) => h.toUpperCase())).toContain(primary(v)?.hashes?.SHA256);
    }
  });

  it('rejects non-arrays, wrong lengths and more than 100 hashes with the real 400', async () => {
    const bad: unknown[] = [{ hashes: [sha(1292)] }, [sha(1292).slice(0, 10)], Array.from({ length: 101 }, () => sha(1292))];
    for (const payload of bad) {
      const { status, body } = await post('/model-versions/by-hash', payload);
      expect(status).toBe(400);
      expect((body as { error: string }).error).toMatch(/^Request must include an array of SHA256 Hashes\. /);
    }
    const notJson = await call('/model-versions/by-hash', { method: 'POST', body: 'nope' });
    expect(notJson.status).toBe(400);
    // Exactly 100 is fine.
    expect((await post('/model-versions/by-hash', Array.from({ length: 100 }, () => sha(1292)))).status).toBe(200);
  });

  it('/ids answers {modelVersionId, modelId, hash} and accepts more than 100 hashes', async () => {
    const hashes = [...library.entries.flatMap((e) => (e.sha256 ? [e.sha256] : []))];
    const many = [...hashes, ...Array.from({ length: 150 }, (_, i) => i.toString(16).padStart(64, 'a'))];
    const { status, body } = await post('/model-versions/by-hash/ids', many);
    expect(status).toBe(200);
    const rows = body as { modelVersionId: number; modelId: number; hash: string }[];
    const bound = library.entries.filter((e) => e.binding);
    expect(rows).toHaveLength(bound.length);
    for (const e of bound) {
      expect(rows).toContainEqual({ modelVersionId: e.binding?.versionId, modelId: e.binding?.modelId, hash: e.sha256 });
    }
  });
});

describe('GET /model-versions/:id', () => {
  it('serves recorded and synthesised versions', async () => {
    for (const id of [1805971, 1279184, 1292, 1318]) {
      const { status, body } = await getJson(`/model-versions/${id}`);
      expect(status).toBe(200);
      expect(ModelVersionSchema.parse(body).id).toBe(id);
    }
    const v1292 = ModelVersionSchema.parse((await getJson('/model-versions/1292')).body);
    expect(v1292.files?.map((f) => f.type)).toEqual(expect.arrayContaining(['Model', 'VAE']));
    expect(primary(v1292)?.hashes?.SHA256).toBe(sha(1292));
  });

  it('400 for a non-numeric id, 404 for an unknown one, 405 for POST', async () => {
    const bad = await getJson('/model-versions/abc');
    expect(bad.status).toBe(400);
    expect(typeof (bad.body as { error: unknown }).error).toBe('string');
    const missing = await call('/model-versions/999999999');
    expect(missing.status).toBe(404);
    expect(missing.text).toBe('{"error":"Model not found"}');
    const wrong = await call('/model-versions/1292', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.text).toBe('{"error":"Method not allowed"}');
  });
});

describe('GET /models/:id and /models', () => {
  it('serves parent models with the re-keyed sibling versions', async () => {
    const { status, body } = await getJson('/models/1580878');
    expect(status).toBe(200);
    const model = ModelSchema.parse(body);
    expect(model.modelVersions?.map((v) => v.id)).toEqual([1967584, 1788945]);
    for (const v of model.modelVersions ?? []) {
      expect(primary(v)?.hashes?.SHA256).toBe(sha(v.id));
    }
    for (const id of [11821, 1231067, 1102, 11772]) {
      expect(ModelSchema.parse((await getJson(`/models/${id}`)).body).id).toBe(id);
    }
  });

  it('drops null and empty-array keys from versions (removeEmpty)', async () => {
    const raw = fake.catalog.models.get(4384);
    const rawNulls = (raw?.modelVersions ?? []).some((v) => Object.values(v).some((x) => x === null));
    expect(rawNulls).toBe(true);
    const model = (await getJson('/models/4384')).body as { modelVersions: Record<string, unknown>[] };
    for (const v of model.modelVersions) {
      for (const value of Object.values(v)) {
        expect(value).not.toBeNull();
        if (Array.isArray(value)) expect(value.length).toBeGreaterThan(0);
      }
    }
    ModelSchema.parse(model);
  });

  it('404 {"error":"No model with id N"} for models not in the fixtures, 400 for bad ids', async () => {
    for (const id of [1595884, 1137571]) {
      const a = await call(`/models/${id}`);
      expect(a.status).toBe(404);
      expect(a.text).toBe(`{"error":"No model with id ${id}"}`);
    }
    expect((await call('/models/0')).status).toBe(400);
    expect((await call('/models/abc')).status).toBe(400);
  });

  it('/models?ids= answers {items, metadata}', async () => {
    const { status, body } = await getJson('/models?ids=1580878,11821');
    expect(status).toBe(200);
    const list = ModelListSchema.parse(body);
    expect(list.items.map((m) => m.id)).toEqual([1580878, 11821]);
    expect(list.metadata).toBeTruthy();
    // Anonymous lists only carry PG images.
    for (const m of list.items) for (const v of m.modelVersions ?? []) expect(v.images?.every((i) => levelOf(i) === 1)).toBe(true);
  });

  it('/models pages with cursors and refuses deep page numbers', async () => {
    const first = ModelListSchema.parse((await getJson('/models?limit=2&types=Checkpoint')).body);
    expect(first.items).toHaveLength(2);
    expect(first.items.every((m) => m.type === 'Checkpoint')).toBe(true);
    expect(first.metadata?.nextCursor).toBeTruthy();
    expect(first.metadata?.nextPage?.startsWith(fake.apiBaseUrl)).toBe(true);
    const second = ModelListSchema.parse((await getJson(first.metadata?.nextPage ?? '')).body);
    expect(second.items[0]?.id).not.toBe(first.items[0]?.id);
    const deep = await call('/models?limit=100&page=11');
    expect(deep.status).toBe(429);
    expect(deep.text).toBe(`{"error":"You've requested too many pages, please use cursors instead"}`);
  });
});

describe('GET /images', () => {
  it('answers the /images shape: string nsfwLevel, numeric browsingLevel, meta null by default', async () => {
    const { status, body } = await getJson('/images?modelVersionId=127062&nsfw=X&limit=100');
    expect(status).toBe(200);
    const list = ImageListSchema.parse(body);
    expect(list.items.length).toBeGreaterThan(3);
    for (const item of list.items) {
      expect(['None', 'Soft', 'Mature', 'X']).toContain(item.nsfwLevel);
      expect(typeof item.browsingLevel).toBe('number');
      expect(item.meta).toBeNull();
      expect(item.id).toEqual(expect.any(Number));
      expect((item as Record<string, unknown>).modelVersionIds).toEqual([127062]);
      expect(item.url.startsWith(`${fake.url}/cdn/`)).toBe(true);
    }
  });

  it('honours nsfw: absent/false → PG only; None/Soft/Mature/X include the levels below; true → NSFW only', async () => {
    const levels = async (query: string) =>
      ImageListSchema.parse((await getJson(`/images?modelVersionId=127062${query}`)).body).items.map((i) => i.browsingLevel ?? 0);
    for (const q of ['', '&nsfw=false', '&nsfw=None']) expect((await levels(q)).every((l) => l === 1)).toBe(true);
    expect(await levels('&nsfw=X')).toEqual(expect.arrayContaining([1, 4, 8]));
    expect((await levels('&nsfw=Mature')).every((l) => l <= 4)).toBe(true);
    expect(await levels('&nsfw=Mature')).toContain(4);
    const t = await levels('&nsfw=true');
    expect(t.length).toBeGreaterThan(0);
    expect(t.every((l) => l >= 4)).toBe(true);
    expect((await levels('&browsingLevel=8')).every((l) => l === 8)).toBe(true);
  });

  it('returns generation metadata with withMeta=true, and limits', async () => {
    const list = ImageListSchema.parse((await getJson('/images?modelVersionId=1805971&nsfw=X&withMeta=true&limit=3')).body);
    expect(list.items).toHaveLength(3);
    expect(list.items.every((i) => i.meta && typeof i.meta === 'object')).toBe(true);
    expect(list.metadata?.nextCursor).toBeTruthy();
  });
});

describe('routing quirks', () => {
  it('answers unknown routes with a Next.js HTML 404 page', async () => {
    for (const path of ['/models-versions/1292', '/nope', '/model-versions/1/extra']) {
      const a = await call(path);
      expect(a.status).toBe(404);
      expect(a.type).toMatch(/^text\/html/);
      expect(a.text).toContain('This page could not be found');
    }
    expect((await call(`${fake.url}/somewhere`)).type).toMatch(/^text\/html/);
  });

  it('records requests with their Authorization header', async () => {
    const before = fake.requests.length;
    await call(`/models/1102?token=abc`, { headers: { authorization: 'Bearer secret-key' } });
    const r = fake.requests[before];
    expect(r).toMatchObject({ method: 'GET', path: '/api/v1/models/1102', query: { token: 'abc' }, status: 200 });
    expect(r?.headers.authorization).toBe('Bearer secret-key');
  });
});

describe('image CDN', () => {
  it('rewrites every image URL (image. and imagecache.) to the fake CDN', async () => {
    for (const path of [`/model-versions/by-hash/${sha(1967584)}`, '/models/1580878', '/model-versions/1318', '/images?modelId=11821&nsfw=X']) {
      const { text } = await call(path);
      expect(text).not.toMatch(/image(cache)?\.civitai\.com/);
      expect(text).toContain(`${fake.url}/cdn/`);
    }
    const v1318 = ModelVersionSchema.parse((await getJson('/model-versions/1318')).body);
    const img = await bytesOf(v1318.images?.[0]?.url ?? '');
    expect(img.status).toBe(200);
    expect(isJpeg(img.bytes)).toBe(true);
  });

  it('serves JPEG bytes for .jpeg URLs, resized to width=', async () => {
    const v = ModelVersionSchema.parse((await getJson(`/model-versions/by-hash/${sha(127062)}`)).body);
    const url = v.images?.[0]?.url ?? '';
    expect(url).toMatch(/\/width=\d+\/\d+\.jpeg$/);
    const small = url.replace(/\/width=\d+\//, '/width=450/');
    const { status, type, bytes } = await bytesOf(small);
    expect(status).toBe(200);
    expect(type).toBe('image/jpeg');
    expect(isJpeg(bytes)).toBe(true);
    const meta = await sharp(bytes).metadata();
    expect(meta.width).toBe(450);
    expect(meta.height).toBe(Math.round((450 * (v.images?.[0]?.height ?? 0)) / (v.images?.[0]?.width ?? 1)));
  });

  it('gives each uuid its own colour, deterministically', async () => {
    const v = ModelVersionSchema.parse((await getJson('/model-versions/1805971?')).body);
    const [a, b] = (v.images ?? []).map((i) => i.url.replace(/original=true/, 'width=96'));
    const pixel = async (u: string) => [...(await sharp((await bytesOf(u)).bytes).raw().toBuffer()).subarray(0, 3)];
    expect(await pixel(a ?? '')).not.toEqual(await pixel(b ?? ''));
    expect((await bytesOf(a ?? '')).bytes).toEqual((await bytesOf(a ?? '')).bytes);
  });

  it(`serves PNG bytes under the .jpeg URL of image ${PNG_AS_JPEG_UUID}`, async () => {
    const v = ModelVersionSchema.parse((await getJson(`/model-versions/by-hash/${sha(1387174)}`)).body);
    const url = v.images?.[0]?.url ?? '';
    expect(url).toContain(PNG_AS_JPEG_UUID);
    expect(url.endsWith('.jpeg')).toBe(true);
    const { bytes, type } = await bytesOf(url);
    expect(isPng(bytes)).toBe(true);
    expect(type).toBe('image/png');
  });

  it('serves videos as real MP4 clips (even under .jpeg), shaped like the recorded size, and a JPEG still with anim=false', async () => {
    const v = ModelVersionSchema.parse((await getJson(`/model-versions/by-hash/${sha(1279184)}`)).body);
    const url = v.images?.[0]?.url ?? '';
    expect(url.endsWith('.jpeg')).toBe(true);
    const video = await bytesOf(url);
    expect(video.type).toBe('video/mp4');
    expect(video.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    // A recorded H.264 clip (`avc1` sample entries), not a header-only stub.
    expect(video.bytes.includes(Buffer.from('avc1'))).toBe(true);
    expect(video.bytes.length).toBeGreaterThan(20_000);
    // 1080×1920 in the body: the portrait clip; the second video (1280×720) gets the landscape one.
    const landscape = await bytesOf(v.images?.[1]?.url ?? '');
    expect(landscape.type).toBe('video/mp4');
    expect(Buffer.compare(landscape.bytes, video.bytes)).not.toBe(0);
    const still = await bytesOf(url.replace('/width=450/', '/width=450,anim=false/'));
    expect(still.type).toBe('image/jpeg');
    expect(isJpeg(still.bytes)).toBe(true);
  });

  it('404 for an unknown uuid', async () => {
    const a = await bytesOf(`${fake.url}/cdn/xG1nkqKTMzGDvpLrqFT7WA/00000000-0000-0000-0000-000000000000/width=450/1.jpeg`);
    expect(a.status).toBe(404);
  });
});

describe('faults', () => {
  const path = '/models/1102';

  it('failNext scripts 429 (with and without Retry-After), 500, HTML 503, truncated, drop', async () => {
    const counts = { ...fake.faultCounts };
    fake.setFaults({ failNext: ['429', '500', '503-html', 'truncated', 'drop', 'none'], retryAfter: 3 });

    const r429 = await call(path);
    expect(r429.status).toBe(429);
    expect(r429.headers.get('retry-after')).toBe('3');
    expect(JSON.parse(r429.text)).toEqual({ error: 'Rate limit exceeded, please retry shortly.' });

    const r500 = await call(path);
    expect(r500.status).toBe(500);
    expect(ErrorBodySchema.parse(JSON.parse(r500.text)).error).toEqual(expect.any(String));

    const r503 = await call(path);
    expect(r503.status).toBe(503);
    expect(r503.type).toMatch(/^text\/html/);
    expect(r503.text).toContain('Cloudflare');

    const truncated = await call(path);
    expect(truncated.status).toBe(200);
    expect(() => JSON.parse(truncated.text)).toThrow();

    await expect(
      (async () => {
        const res = await fetch(fake.apiBaseUrl + path);
        await res.arrayBuffer();
      })(),
    ).rejects.toThrow();

    expect((await call(path)).status).toBe(200); // 'none'
    expect((await call(path)).status).toBe(200); // script exhausted

    expect(fake.faultCounts['429'] - (counts['429'] ?? 0)).toBe(1);
    expect(fake.faultCounts['500'] - (counts['500'] ?? 0)).toBe(1);
    expect(fake.faultCounts['503-html'] - (counts['503-html'] ?? 0)).toBe(1);
    expect(fake.faultCounts.truncated - (counts.truncated ?? 0)).toBe(1);
    expect(fake.faultCounts.drop - (counts.drop ?? 0)).toBe(1);

    fake.setFaults({ failNext: ['429'] });
    expect((await call(path)).headers.get('retry-after')).toBeNull();
  });

  it('rates are deterministic for a seed', async () => {
    const run = async (): Promise<number[]> => {
      fake.setFaults({ seed: 42, rate429: 0.25, rate500: 0.25, rate503Html: 0.2 });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) statuses.push((await call(path)).status);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 429, 500, 503]));

    fake.setFaults({ rate429: 1 });
    for (let i = 0; i < 3; i += 1) expect((await call(path)).status).toBe(429);
  });

  it('rateTruncated and rateDrop at 1 always fire', async () => {
    fake.setFaults({ rateTruncated: 1 });
    const t = await call(path);
    expect(t.status).toBe(200);
    expect(() => JSON.parse(t.text)).toThrow();
    fake.setFaults({ rateDrop: 1 });
    await expect(fetch(fake.apiBaseUrl + path).then((r) => r.arrayBuffer())).rejects.toThrow();
  });

  it('the paths filter limits faults to matching paths (e.g. the CDN)', async () => {
    fake.setFaults({ paths: '/cdn/', rate500: 1 });
    expect((await call(path)).status).toBe(200);
    const v = ModelVersionSchema.parse((await getJson(`/model-versions/by-hash/${sha(127062)}`)).body);
    expect((await bytesOf(v.images?.[0]?.url ?? '')).status).toBe(500);
    fake.setFaults({ paths: [/^\/api\/v1\/images/], failNext: ['drop'] });
    expect((await call(path)).status).toBe(200);
  });

  it('records injected latency within [latencyMs, latencyMs + jitterMs)', async () => {
    fake.setFaults({ latencyMs: 20, jitterMs: 15, seed: 7 });
    const before = fake.requests.length;
    for (let i = 0; i < 3; i += 1) expect((await call(path)).status).toBe(200);
    const delays = fake.requests.slice(before).map((r) => r.delayMs ?? 0);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(20);
      expect(d).toBeLessThan(35);
    }
  });

  it('FaultInjector: same seed, same decisions', () => {
    const kinds = (seed: number): FaultKind[] => {
      const f = new FaultInjector({ seed, rate429: 0.2, rate500: 0.2, rateTruncated: 0.2, rateDrop: 0.2 });
      return Array.from({ length: 50 }, () => f.decide('/x').fault);
    };
    expect(kinds(3)).toEqual(kinds(3));
    expect(kinds(3)).not.toEqual(kinds(4));
  });

  it('accepts faults and bindings as constructor options', async () => {
    const other = await startFakeCivitai({
      faults: { failNext: ['500'] },
      bindings: [{ sha256: 'ab'.repeat(32), size: 2048, versionId: 1105 }],
    });
    try {
      expect((await fetch(`${other.apiBaseUrl}/models/1102`)).status).toBe(500);
      const res = await fetch(`${other.apiBaseUrl}/model-versions/by-hash/${'AB'.repeat(32)}`);
      const v = ModelVersionSchema.parse(await res.json());
      expect(v.id).toBe(1105);
      expect(primary(v)?.hashes).toEqual({ AutoV2: 'ABABABABAB', SHA256: 'AB'.repeat(32) });
      expect(primary(v)?.sizeKB).toBe(2);
      expect(other.faultCounts['500']).toBe(1);
    } finally {
      await other.close();
    }
  });
});
