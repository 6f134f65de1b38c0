/**
 * A batch answer (by-hash versions, a page of models) is stored in one transaction, each entry
 * under its own key as if fetched alone, and answers the next run from the cache (issue #14).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCivitaiClient, type ResponseStore } from '../../src/integration/engine/civitai/client.ts';
import { ApiSchema } from '../../src/integration/engine/config/schema.ts';
import { openStateStore } from '../../src/integration/engine/state/index.ts';

let dir: string;
let server: Server;
let origin: string;
let requests = 0;
const HASHES = Array.from({ length: 30 }, (_, index) => index.toString(16).toUpperCase().padStart(64, 'A'));

function version(index: number) {
  return { id: 100 + index, modelId: 1 + index, name: `v${index}`, files: [{ id: index, name: `f${index}.safetensors`, hashes: { SHA256: HASHES[index] } }] };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-http-cache-'));
  server = createServer((req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.method === 'POST') {
      // Every hash but the last is known.
      res.end(JSON.stringify(HASHES.slice(0, -1).map((_, index) => version(index))));
      return;
    }
    const ids = new URL(req.url ?? '/', 'http://x').searchParams.get('ids')?.split(',').map(Number) ?? [];
    res.end(JSON.stringify({ items: ids.map((id) => ({ id, name: `model ${id}`, type: 'LORA', modelVersions: [] })), metadata: {} }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function client(store: ResponseStore) {
  return createCivitaiClient(ApiSchema.parse({ base_url: `${origin}/api/v1` }), { cache: { store, maxAgeSeconds: 3600, bypass: false } });
}

describe('HTTP cache of batch answers', () => {
  it('stores a batch answer in one call, and a new process answers from it without a request', async () => {
    const file = path.join(dir, 'one');
    let store = openStateStore(file);
    const calls = { set: 0, setMany: 0 };
    const begin = store.cache.setMany.bind(store.cache);
    const counting: ResponseStore = {
      get: (key, maxAge) => store.cache.get(key, maxAge),
      set: (key, value) => {
        calls.set += 1;
        store.cache.set(key, value);
      },
      setMany: (entries) => {
        calls.setMany += 1;
        begin(entries);
      },
    };
    const first = client(counting);
    expect(await first.getVersionsBySha256(HASHES)).toHaveLength(HASHES.length - 1);
    expect(await first.getModels([1, 2, 3, 4, 5])).toHaveLength(5);
    expect(calls).toEqual({ set: 0, setMany: 2 });
    store.close();

    requests = 0;
    store = openStateStore(file);
    const again = client(store.cache);
    const versions = await again.getVersionsBySha256(HASHES.slice(0, -1));
    expect(versions.map((each) => each.id)).toEqual(HASHES.slice(0, -1).map((_, index) => 100 + index));
    expect((await again.getModels([1, 2, 3, 4, 5])).map((model) => model.id)).toEqual([1, 2, 3, 4, 5]);
    expect(requests).toBe(0);
    // Each model under its own key, as if fetched alone.
    expect(store.cache.get(`GET ${origin}/api/v1/models/3`, 3600)).toMatchObject({ status: 200 });
    store.close();
  });

  it('joins a transaction of the store already open, and is undone with it', () => {
    const store = openStateStore(path.join(dir, 'two'));
    const entries = [
      { key: 'a', value: { status: 200, body: '{"a":1}' } },
      { key: 'b', value: { status: 404, body: '{}' } },
    ];
    expect(() =>
      store.transaction(() => {
        store.cache.setMany(entries);
        throw new Error('undo');
      }),
    ).toThrow('undo');
    expect(store.cache.get('a', 3600)).toBeUndefined();
    store.transaction(() => store.cache.setMany(entries));
    store.cache.setMany([{ key: 'c', value: { status: 200, body: '[]' } }]);
    expect(store.cache.get('a', 3600)).toMatchObject({ status: 200, body: '{"a":1}' });
    expect(store.cache.get('b', 3600)).toMatchObject({ status: 404 });
    expect(store.cache.get('c', 3600)).toMatchObject({ body: '[]' });
    store.close();
  });
});
