import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createCivitaiClient, CivitaiRequestError } from '../src/integration/engine/civitai/client.ts';
import { parseRetryAfter } from '../src/integration/engine/civitai/http.ts';
import { ApiSchema } from '../src/integration/engine/config/schema.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, count: number) => void;
const servers: Server[] = [];

async function serve(handler: Handler): Promise<{ origin: string; hits: IncomingMessage[] }> {
  const hits: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    hits.push(req);
    handler(req, res, hits.length);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

const waits: number[] = [];
const sleep = async (ms: number) => {
  waits.push(ms);
};

function client(origin: string, overrides: Record<string, unknown> = {}) {
  const api = ApiSchema.parse({ base_url: `${origin}/api/v1`, key: 'SECRET-KEY-123', max_retries: 3, ...overrides });
  return createCivitaiClient(api, { sleep });
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('CivitAI client', () => {
  it('turns only a JSON 404 into "not found"', async () => {
    const { origin } = await serve((req, res) => {
      if (req.url?.includes('AAAA')) json(res, 404, { error: 'Model not found' });
      else {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<!DOCTYPE html><html><body>404: This page could not be found</body></html>');
      }
    });
    const api = client(origin);
    await expect(api.getVersionByHash('AAAA')).resolves.toEqual({ found: false });
    const failure = await api.getVersionByHash('BBBB').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CivitaiRequestError);
    expect((failure as Error).message).toMatch(/api\.base_url/);
  });

  it('retries 429 honouring Retry-After, then succeeds', async () => {
    waits.length = 0;
    const { origin, hits } = await serve((_req, res, count) => {
      if (count === 1) json(res, 429, { error: 'slow down' }, { 'retry-after': '7' });
      else if (count === 2) {
        res.writeHead(503, { 'content-type': 'text/html' });
        res.end('<html><body>Cloudflare: service unavailable</body></html>');
      } else json(res, 200, { id: 5, modelId: 9 });
    });
    const answer = await client(origin).getVersionByHash('CCCC');
    expect(answer).toMatchObject({ found: true, value: { id: 5, modelId: 9 } });
    expect(hits).toHaveLength(3);
    expect(waits[0]).toBe(7000);
  });

  it('retries truncated JSON and gives up after max_retries with a transport error, not a 404', async () => {
    const { origin, hits } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id": 5, "mod');
    });
    const failure = await client(origin, { max_retries: 2 }).getVersionByHash('DDDD').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CivitaiRequestError);
    expect((failure as CivitaiRequestError).kind).toBe('bad-body');
    expect(hits).toHaveLength(3);
  });

  it('retries a dropped connection', async () => {
    const { origin, hits } = await serve((req, res, count) => {
      if (count === 1) req.socket.destroy();
      else json(res, 200, { items: [{ id: 1, name: 'm' }] });
    });
    await expect(client(origin).getModels([1])).resolves.toMatchObject([{ id: 1 }]);
    expect(hits).toHaveLength(2);
  });

  it('sends the API key to the API origin only, never to another host', async () => {
    const cdn = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    });
    const api = await serve((_req, res) => json(res, 200, []));
    const civitai = client(api.origin);
    await civitai.getVersionsBySha256(['A'.repeat(64)]);
    await civitai.download(`${cdn.origin}/image.jpeg`);
    expect(api.hits[0]?.headers.authorization).toBe('Bearer SECRET-KEY-123');
    expect(cdn.hits[0]?.headers.authorization).toBeUndefined();
    expect(civitai.stats).toMatchObject({ apiRequests: 1, downloadRequests: 1 });
  });

  it('decodes gzip, deflate and br bodies, and asks for them', async () => {
    const body = JSON.stringify({ items: [{ id: 1, name: 'm'.repeat(5000) }] });
    const encoders: Record<string, (data: string) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };
    const { origin, hits } = await serve((req, res, count) => {
      const coding = Object.keys(encoders)[(count - 1) % 3] as string;
      const encoded = (encoders[coding] as (data: string) => Buffer)(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding, 'content-length': String(encoded.length) });
      res.end(encoded);
    });
    const civitai = client(origin);
    for (let round = 0; round < 3; round += 1) {
      await expect(civitai.getModels([1])).resolves.toMatchObject([{ id: 1, name: 'm'.repeat(5000) }]);
    }
    expect(hits).toHaveLength(3);
    expect(hits[0]?.headers['accept-encoding']).toMatch(/gzip.*deflate.*br/);
  });

  it('follows a download\'s redirects (302, 301, 307, relative or not), and not past 20 of them', async () => {
    const { origin, hits } = await serve((req, res) => {
      const hop = Number(/\/hop\/(\d+)/.exec(req.url ?? '')?.[1] ?? -1);
      if (req.url === '/image.jpeg') {
        res.writeHead(302, { location: '/hop/1' });
        res.end();
      } else if (hop >= 1 && hop < 3) {
        res.writeHead(hop === 1 ? 301 : 307, { location: `${origin}/hop/${hop + 1}` });
        res.end();
      } else if (hop === 3) {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(Buffer.from('picture'));
      } else {
        res.writeHead(302, { location: req.url ?? '/' });
        res.end();
      }
    });
    const civitai = client(origin, { max_retries: 0 });
    const answer = await civitai.download(`${origin}/image.jpeg`);
    expect(answer.bytes.toString()).toBe('picture');
    expect(hits.map((hit) => hit.url)).toEqual(['/image.jpeg', '/hop/1', '/hop/2', '/hop/3']);
    const loop = await civitai.download(`${origin}/loop`).catch((error: unknown) => error);
    expect(loop).toBeInstanceOf(CivitaiRequestError);
    expect((loop as CivitaiRequestError).message).toMatch(/more than 20 redirects/);
  });

  it('an API redirect is the answer when the key is set (never followed with it)', async () => {
    const other = await serve((_req, res) => json(res, 200, { items: [{ id: 1 }] }));
    const { origin, hits } = await serve((_req, res) => {
      res.writeHead(302, { location: `${other.origin}/api/v1/models?ids=1` });
      res.end();
    });
    const failure = await client(origin, { max_retries: 0 }).getModels([1]).catch((error: unknown) => error);
    expect(hits).toHaveLength(1);
    expect(other.hits).toHaveLength(0);
    expect(failure).toBeInstanceOf(CivitaiRequestError);
  });

  it('posts hashes in batches of at most 100', async () => {
    const sizes: number[] = [];
    const { origin } = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        sizes.push((JSON.parse(body) as string[]).length);
        json(res, 200, []);
      });
    });
    const hashes = Array.from({ length: 250 }, (_, i) => i.toString(16).padStart(64, '0'));
    await client(origin).getVersionsBySha256(hashes);
    expect(sizes).toEqual([100, 100, 50]);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
