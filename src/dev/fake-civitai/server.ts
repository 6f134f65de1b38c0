/**
 * An offline stand-in for the CivitAI REST API and image CDN, built from recorded bodies
 * (src/dev/fixtures/civitai/) and reproducing the real API's quirks:
 * compact JSON, `{"error": …}` bodies with the real strings, dropped empty keys on model bodies,
 * case-insensitive hash lookup over every hash type, unordered batch answers, a Next.js HTML 404
 * for unknown routes, and SFW-only image lists on version bodies (NSFW media only via /images).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { z } from 'zod';
import type { SampleLibrary } from '../sample-library/library.ts';
import { Catalog, imageLevel, imageUuid, type CatalogBinding, type ExtraVersion, type RawImage, type RawModel, type RawVersion } from './catalog.ts';
import { FaultInjector, type BodyFaultKind, type FaultCounts, type FaultKind, type FaultOptions } from './faults.ts';
import { serveCdn } from './media.ts';
import { seedFrom } from './prng.ts';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, as sent (percent-encoding kept). */
  path: string;
  /** Query parameters (the last value wins for repeated keys). */
  query: Record<string, string>;
  /** Raw query parameters, for repeated keys. */
  search: string;
  /** Request headers, lower-case names; `authorization` included. */
  headers: IncomingHttpHeaders;
  /** Request body text (POST). */
  body?: string;
  /** Status of the answer (the fault's status for injected faults). */
  status?: number;
  fault?: FaultKind;
  /** Injected latency. */
  delayMs?: number;
  /** How the body was sent (`FaultOptions.bodyFault`). */
  bodyFault?: BodyFaultKind;
  /** With a body fault: body bytes the socket accepted (the peer may not have read them all). */
  bodyBytesSent?: number;
  /**
   * With a body fault: true when the connection closed before the whole body was sent, false
   * once it was all sent; unset while it is being sent.
   */
  clientClosedEarly?: boolean;
}

export interface FakeCivitaiOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Re-key the versions bound in this sample library manifest to its files. */
  library?: SampleLibrary;
  /** More bindings (applied after the library's). */
  bindings?: CatalogBinding[];
  /** Versions added to recorded models (see ExtraVersion in catalog.ts). */
  extraVersions?: ExtraVersion[];
  faults?: FaultOptions;
  /** Default src/dev/fixtures/civitai. */
  fixturesDir?: string;
  /**
   * Highest image level kept in version bodies (by-hash GET/POST and by-id). Default 1 (PG):
   * NSFW previews only come from `/images`. Use 31 to serve the recorded lists unfiltered.
   */
  versionImageMaxLevel?: number;
}

export interface FakeCivitai {
  /** Origin, e.g. `http://127.0.0.1:4123`. */
  url: string;
  /** `${url}/api/v1`. */
  apiBaseUrl: string;
  port: number;
  /** Every request received, in arrival order. Mutable: `requests.length = 0` clears it. */
  requests: RecordedRequest[];
  /** Injected faults so far (cumulative; `setFaults` does not reset it). */
  faultCounts: FaultCounts;
  /** Replaces the fault configuration (and restarts its PRNG and `failNext` script). */
  setFaults(faults: FaultOptions): void;
  /** The URL this server serves for a real CivitAI image URL. */
  cdnUrl(civitaiUrl: string): string;
  catalog: Catalog;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const PUBLIC_CACHE = 'public, s-maxage=300, stale-while-revalidate=150';
const BATCH_ERROR = 'Request must include an array of SHA256 Hashes. ';
const MAX_INT = 2147483647;

const NEXT_404 =
  '<!DOCTYPE html><html><head><meta charSet="utf-8"/><meta name="viewport" content="width=device-width"/>' +
  '<title>404: This page could not be found</title><meta name="next-head-count" content="3"/></head><body>' +
  '<div id="__next"><div style="font-family:system-ui,&quot;Segoe UI&quot;,Roboto,Helvetica,Arial,sans-serif;height:100vh;text-align:center;display:flex;flex-direction:column;align-items:center;justify-content:center">' +
  '<div><h1 class="next-error-h1" style="display:inline-block;margin:0 20px 0 0;padding:0 23px 0 0;font-size:24px;font-weight:500;vertical-align:top;line-height:49px">404</h1>' +
  '<div style="display:inline-block"><h2 style="font-size:14px;font-weight:400;line-height:49px;margin:0">This page could not be found<!-- -->.</h2></div></div></div></div>' +
  '<script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{"statusCode":404}},"page":"/_error","query":{},"buildId":"fake-civitai","nextExport":true,"isFallback":false,"gip":true,"scriptLoader":[]}</script>' +
  '</body></html>';

function cloudflare503(rayId: string): string {
  return `<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->
<head>
<title>civitai.com | 503: Service temporarily unavailable</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
        <span class="inline-block">Service temporarily unavailable</span>
        <span class="code-label">Error code 503</span>
      </h1>
    </header>
    <div class="clearfix footer-wrapper">
      <p class="text-13">
        <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">${rayId}</strong></span>
        <span class="cf-footer-separator sm:hidden">&bull;</span>
        <span class="cf-footer-item sm:block sm:mb-1">Performance &amp; security by <a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing" target="_blank">Cloudflare</a></span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
`;
}

/** `removeEmpty` of the real server: drops keys whose value is null, undefined or `[]` (shallow). */
export function removeEmpty<T extends Record<string, unknown>>(object: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    out[key] = value;
  }
  return out as T;
}

const NSFW_NAMES: Record<number, string> = { 1: 'None', 2: 'Soft', 4: 'Mature', 8: 'X', 16: 'X', 32: 'Blocked' };

/** `nsfw` of GET /images → browsing-level mask: a name includes the levels below it, `true` is NSFW only. */
export function nsfwMask(nsfw: string | undefined): number {
  switch ((nsfw ?? '').toLowerCase()) {
    case 'none':
      return 1;
    case 'soft':
      return 1 | 2;
    case 'mature':
      return 1 | 2 | 4;
    case 'x':
      return 1 | 2 | 4 | 8 | 16;
    case 'true':
      return 4 | 8 | 16 | 32;
    default:
      return 1;
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: Buffer.from(JSON.stringify(body)) };
}

function errorReply(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return json(status, { error: message }, headers);
}

function html404(): Reply {
  return { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' }, body: Buffer.from(NEXT_404) };
}

function methodNotAllowed(): Reply {
  return errorReply(405, 'Method not allowed');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Next.js-style 400 text for a zod failure. */
function zodMessage(error: z.ZodError): string {
  return error.message;
}

const idSchema = z.coerce.number().int().min(1).max(MAX_INT);

/** Every `description` (string or null) in a JSON body padded to `chars` characters. */
function padDescriptions(text: string, chars: number): string {
  const filler = 'A very long description. ';
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      for (const [key, inner] of Object.entries(object)) {
        if (key === 'description' && (typeof inner === 'string' || inner === null)) {
          const start = inner ?? '';
          object[key] = start.length >= chars ? start : start + filler.repeat(Math.ceil((chars - start.length) / filler.length)).slice(0, chars - start.length);
        } else walk(inner);
      }
    }
  };
  const parsed: unknown = JSON.parse(text);
  walk(parsed);
  return JSON.stringify(parsed);
}

const ZEROS = Buffer.alloc(64 * 1024);
const gzippedZeros = new Map<number, Promise<Buffer>>();

/** `bytes` zero bytes, gzipped (kept per size: a few hundred KB even for 600 MiB). */
function gzipZeros(bytes: number): Promise<Buffer> {
  let cached = gzippedZeros.get(bytes);
  if (!cached) {
    cached = new Promise<Buffer>((resolve, reject) => {
      const gzip = createGzip({ level: 9 });
      const out: Buffer[] = [];
      gzip.on('data', (chunk: Buffer) => out.push(chunk));
      gzip.on('end', () => resolve(Buffer.concat(out)));
      gzip.on('error', reject);
      let left = bytes;
      const feed = () => {
        while (left > 0) {
          const chunk = left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left);
          left -= chunk.length;
          if (!gzip.write(chunk)) {
            gzip.once('drain', feed);
            return;
          }
        }
        gzip.end();
      };
      feed();
    });
    gzippedZeros.set(bytes, cached);
  }
  return cached;
}

/**
 * Sends `body` the way the body fault says (see BODY_FAULT_KINDS in faults.ts), counting the
 * bytes the socket accepts and stopping as soon as the client goes away.
 */
async function sendFaultyBody(
  res: ServerResponse,
  record: RecordedRequest,
  status: number,
  headers: Record<string, string>,
  body: Buffer,
  fault: { kind: BodyFaultKind; dripIntervalMs: number; oversizeBytes: number; lyingLength: number },
): Promise<void> {
  const socket = res.socket;
  record.bodyBytesSent = 0;
  if (!socket || socket.destroyed) {
    record.clientClosedEarly = true;
    return;
  }
  const gone = new AbortController();
  let finished = false;
  const finish = () => {
    finished = true;
    record.clientClosedEarly ??= false;
  };
  socket.once('close', () => {
    if (!finished) record.clientClosedEarly = true;
    gone.abort();
  });
  // Through the response (framing by Node) or, to lie about the length, straight to the socket.
  const write = (target: 'response' | 'socket', chunk: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      if (gone.signal.aborted || socket.destroyed) return resolve(false);
      const done = (error?: Error | null) => {
        if (!error) record.bodyBytesSent = (record.bodyBytesSent ?? 0) + chunk.length;
      };
      const ok = target === 'response' ? res.write(chunk, done) : socket.write(chunk, done);
      if (ok) return resolve(true);
      const onDrain = () => {
        gone.signal.removeEventListener('abort', onGone);
        resolve(true);
      };
      const onGone = () => {
        socket.removeListener('drain', onDrain);
        resolve(false);
      };
      socket.once('drain', onDrain);
      gone.signal.addEventListener('abort', onGone, { once: true });
    });
  /** `first`, then zeros up to `total` bytes. */
  const stream = async (target: 'response' | 'socket', first: Buffer, total: number): Promise<boolean> => {
    if (first.length > 0 && !(await write(target, first.subarray(0, total)))) return false;
    for (let sent = first.length; sent < total; sent += ZEROS.length) {
      if (!(await write(target, sent + ZEROS.length <= total ? ZEROS : ZEROS.subarray(0, total - sent)))) return false;
    }
    return true;
  };
  const wait = (ms: number) => sleep(ms, undefined, { signal: gone.signal }).then(
    () => true,
    () => false,
  );
  const plain = { ...headers };
  delete plain['content-length'];
  switch (fault.kind) {
    case 'drip': {
      res.writeHead(status, { ...plain, 'content-length': String(body.length) });
      res.flushHeaders();
      for (let index = 0; index < body.length; index += 1) {
        if (!(await wait(fault.dripIntervalMs)) || !(await write('response', body.subarray(index, index + 1)))) return;
      }
      finish();
      res.end();
      return;
    }
    case 'stall': {
      res.writeHead(status, { ...plain, 'content-length': String(body.length) });
      await write('response', body.subarray(0, Math.max(1, Math.floor(body.length / 2))));
      // Nothing more until the client (or close()) ends the connection.
      await new Promise<void>((resolve) => (gone.signal.aborted ? resolve() : gone.signal.addEventListener('abort', () => resolve(), { once: true })));
      return;
    }
    case 'oversize':
    case 'oversize-chunked': {
      const total = Math.max(fault.oversizeBytes, body.length);
      res.writeHead(status, fault.kind === 'oversize' ? { ...plain, 'content-length': String(total) } : plain);
      if (!(await stream('response', body, total))) return;
      finish();
      res.end();
      return;
    }
    case 'lying-length': {
      res.writeHead(status, { ...plain, 'content-length': String(fault.lyingLength) });
      res.flushHeaders();
      await stream('socket', body, Math.max(fault.oversizeBytes, body.length));
      finish();
      socket.destroy();
      return;
    }
    case 'gzip-bomb': {
      const packed = await gzipZeros(fault.oversizeBytes);
      res.writeHead(status, { ...plain, 'content-encoding': 'gzip', 'content-length': String(packed.length) });
      if (!(await write('response', packed))) return;
      finish();
      res.end();
      return;
    }
  }
}

export async function startFakeCivitai(options: FakeCivitaiOptions = {}): Promise<FakeCivitai> {
  const bindings: CatalogBinding[] = [];
  for (const entry of options.library?.entries ?? []) {
    if (!entry.binding || !entry.sha256) continue;
    bindings.push({ sha256: entry.sha256, size: entry.size, hashes: entry.hashes, versionId: entry.binding.versionId });
  }
  bindings.push(...(options.bindings ?? []));
  const catalog = new Catalog(options.fixturesDir, bindings, options.extraVersions);
  const faults = new FaultInjector(options.faults);
  const maxLevel = options.versionImageMaxLevel ?? 1;
  const requests: RecordedRequest[] = [];
  let origin = '';

  const rewrite = (text: string): string =>
    text.replace(/https:\/\/image(?:cache)?\.civitai\.com\//g, `${origin}/cdn/`);

  /** The by-id / by-hash body as served, or an error reply. */
  const servedVersion = (versionId: number): RawVersion | Reply => {
    const body = catalog.versionBody(versionId);
    if (!body) return errorReply(404, 'Model not found');
    if (!body.files || body.files.length === 0) return errorReply(404, 'Missing model file');
    body.images = (body.images ?? []).filter((image) => imageLevel(image) <= maxLevel).slice(0, 10);
    return body;
  };
  const isReply = (value: unknown): value is Reply =>
    typeof value === 'object' && value !== null && 'body' in value && Buffer.isBuffer((value as Reply).body);

  /** Deterministic, but never the request order when there are two or more answers. */
  const dbOrder = <T extends { versionId: number }>(matched: T[]): T[] => {
    const sorted = [...matched].sort((a, b) => a.versionId - b.versionId);
    if (sorted.length > 1 && sorted.every((m, i) => m === matched[i])) sorted.reverse();
    return sorted;
  };

  const batchInput = (text: string, max: number): string[] | Reply => {
    let value: unknown;
    try {
      value = text ? JSON.parse(text) : undefined;
    } catch {
      value = undefined;
    }
    const parsed = z.array(z.string().length(64)).max(max).safeParse(value);
    if (!parsed.success) return errorReply(400, BATCH_ERROR + JSON.stringify(parsed.error.issues));
    return [...new Set(parsed.data.map((h) => h.toUpperCase()))];
  };

  const matchBatch = (hashes: string[]): { versionId: number; hash: string }[] => {
    const matched: { versionId: number; hash: string }[] = [];
    for (const hash of hashes) {
      const id = catalog.lookup(hash, true)[0];
      if (id !== undefined) matched.push({ versionId: id, hash });
    }
    return dbOrder(matched);
  };

  const toImageItem = (image: RawImage, versionId: number, withMeta: boolean, wrapMeta: boolean): Record<string, unknown> => {
    const level = imageLevel(image);
    const uuid = imageUuid(image.url) ?? image.url;
    const fromName = /\/(\d+)\.[a-z0-9]+$/i.exec(image.url)?.[1];
    const id = image.id ?? (fromName ? Number(fromName) : seedFrom(uuid) % 100_000_000);
    const version = catalog.versionObjects(versionId)[0];
    const model = catalog.modelOf(versionId);
    const reactions = seedFrom(`likes:${uuid}`) % 500;
    let meta: unknown = null;
    if (withMeta && image.meta && typeof image.meta === 'object') {
      meta = wrapMeta ? { id, meta: image.meta } : image.meta;
    }
    return {
      id,
      url: image.url,
      hash: image.hash ?? null,
      width: image.width ?? null,
      height: image.height ?? null,
      nsfwLevel: NSFW_NAMES[level] ?? 'X',
      type: image.type ?? 'image',
      nsfw: level > 1,
      browsingLevel: level,
      createdAt: version?.publishedAt ?? version?.createdAt ?? null,
      postId: image.postId ?? (seedFrom(`post:${versionId}`) % 10_000_000) + 1,
      stats: {
        cryCount: 0,
        laughCount: reactions % 7,
        likeCount: reactions,
        dislikeCount: 0,
        heartCount: Math.floor(reactions / 3),
        commentCount: reactions % 5,
      },
      meta,
      username: model?.creator?.username ?? null,
      baseModel: version?.baseModel ?? null,
      modelVersionIds: [versionId],
    };
  };

  const pageMetadata = (
    url: URL,
    total: number,
    offset: number,
    limit: number,
    page: number | undefined,
  ): Record<string, unknown> => {
    const metadata: Record<string, unknown> = {};
    const more = offset + limit < total;
    if (page !== undefined) {
      metadata.currentPage = page;
      metadata.pageSize = limit;
      if (more) {
        const next = new URL(url.pathname + url.search, origin);
        next.searchParams.set('page', String(page + 1));
        metadata.nextPage = next.toString();
      }
    } else if (more) {
      const next = new URL(url.pathname + url.search, origin);
      next.searchParams.set('cursor', String(offset + limit));
      metadata.nextCursor = String(offset + limit);
      metadata.nextPage = next.toString();
    }
    return metadata;
  };

  const paging = (
    url: URL,
    defaultLimit: number,
    maxLimit: number,
  ): { limit: number; offset: number; page: number | undefined } | Reply => {
    const q = url.searchParams;
    const limit = q.has('limit') ? Number(q.get('limit')) : defaultLimit;
    if (!Number.isInteger(limit) || limit < 0 || limit > maxLimit) {
      return errorReply(400, `limit must be an integer between 0 and ${maxLimit}`);
    }
    const page = q.has('page') && !q.has('cursor') ? Number(q.get('page')) : undefined;
    if (page !== undefined && (!Number.isInteger(page) || page < 1)) return errorReply(400, 'page must be a positive integer');
    if (page !== undefined && page * limit > 1000) {
      return errorReply(429, "You've requested too many pages, please use cursors instead");
    }
    const cursor = q.has('cursor') ? Number(q.get('cursor')) : 0;
    const offset = page !== undefined ? (page - 1) * limit : Number.isFinite(cursor) && cursor > 0 ? cursor : 0;
    return { limit, offset, page };
  };

  const filterModelImages = (model: RawModel, maxImageLevel: number): RawModel => {
    const clone = structuredClone(model);
    for (const v of clone.modelVersions ?? []) {
      if (v.images) v.images = v.images.filter((image) => imageLevel(image) <= maxImageLevel);
    }
    return clone;
  };

  const api = async (req: IncomingMessage, url: URL, route: string, text: string): Promise<Reply> => {
    const method = req.method ?? 'GET';
    const q = url.searchParams;
    let m: RegExpExecArray | null;

    if (route === '/model-versions/by-hash/ids') {
      const input = batchInput(text, 10_000);
      if (isReply(input)) return input;
      return json(
        200,
        matchBatch(input).map(({ versionId, hash }) => ({ modelVersionId: versionId, modelId: catalog.modelIdOf(versionId) ?? null, hash })),
        { 'cache-control': PUBLIC_CACHE },
      );
    }
    if (route === '/model-versions/by-hash' || route === '/model-versions/by-hash/') {
      if (method === 'OPTIONS') return { status: 200, headers: {}, body: Buffer.alloc(0) };
      const input = batchInput(text, 100);
      if (isReply(input)) return input;
      const bodies = matchBatch(input).map(({ versionId }) => {
        const body = servedVersion(versionId);
        return isReply(body) ? null : body;
      });
      return json(200, bodies, { 'cache-control': PUBLIC_CACHE });
    }
    if ((m = /^\/model-versions\/by-hash\/([^/]*)$/.exec(route))) {
      if (method === 'OPTIONS') return { status: 200, headers: {}, body: Buffer.alloc(0) };
      const hash = decodeURIComponent(m[1] ?? '').trim().toUpperCase();
      if (!hash) return errorReply(400, 'Missing hash');
      const id = catalog.lookup(hash)[0];
      if (id === undefined) return errorReply(404, 'Model not found');
      const body = servedVersion(id);
      if (isReply(body)) return body;
      return json(200, body, { 'cache-control': 'public, s-maxage=3600, stale-while-revalidate=1800' });
    }
    if ((m = /^\/model-versions\/([^/]+)$/.exec(route))) {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed();
      const parsed = idSchema.safeParse(decodeURIComponent(m[1] ?? ''));
      if (!parsed.success) return errorReply(400, zodMessage(parsed.error));
      const body = servedVersion(parsed.data);
      if (isReply(body)) return body;
      return json(200, body, { 'cache-control': PUBLIC_CACHE });
    }
    if ((m = /^\/models\/([^/]+)$/.exec(route))) {
      if (method === 'OPTIONS') return { status: 200, headers: {}, body: Buffer.alloc(0) };
      const raw = decodeURIComponent(m[1] ?? '');
      const parsed = idSchema.safeParse(raw);
      if (!parsed.success) return errorReply(400, zodMessage(parsed.error));
      const model = catalog.models.get(parsed.data);
      if (!model) return errorReply(404, `No model with id ${raw}`);
      const body = structuredClone(model);
      if (body.modelVersions) body.modelVersions = body.modelVersions.map((v) => removeEmpty(v));
      return json(200, body, { 'cache-control': PUBLIC_CACHE });
    }
    if (route === '/models' || route === '/models/') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed();
      if ((q.has('favorites') || q.has('hidden')) && !req.headers.authorization && !q.has('token')) {
        return errorReply(401, 'Unauthorized');
      }
      if (q.has('query') && q.has('page')) {
        return errorReply(400, 'Cannot use page param with query search. Use cursor-based pagination.');
      }
      const p = paging(url, 100, 100);
      if (isReply(p)) return p;
      let models = [...catalog.models.values()];
      const ids = q
        .getAll('ids')
        .flatMap((v) => v.split(','))
        .map((v) => Number(v.trim()))
        .filter((v) => Number.isInteger(v));
      if (ids.length) models = ids.map((id) => catalog.models.get(id)).filter((v): v is RawModel => v !== undefined);
      const types = q.getAll('types').flatMap((v) => v.split(','));
      if (types.length) models = models.filter((model) => types.includes(model.type ?? ''));
      const query = q.get('query')?.toLowerCase();
      if (query) models = models.filter((model) => (model.name ?? '').toLowerCase().includes(query));
      const nsfw = q.get('nsfw') === 'true';
      if (!nsfw) models = models.filter((model) => model.nsfw !== true);
      const items = models.slice(p.offset, p.offset + p.limit).map((model) => filterModelImages(model, nsfw ? 16 : 1));
      return json(200, { items, metadata: pageMetadata(url, models.length, p.offset, p.limit, p.page) }, { 'cache-control': PUBLIC_CACHE });
    }
    if (route === '/images' || route === '/images/') {
      if (method === 'OPTIONS') return { status: 200, headers: {}, body: Buffer.alloc(0) };
      const p = paging(url, 100, 200);
      if (isReply(p)) return p;
      const browsingLevel = q.has('browsingLevel') ? Number(q.get('browsingLevel')) : undefined;
      const mask = browsingLevel !== undefined && Number.isInteger(browsingLevel) ? browsingLevel : nsfwMask(q.get('nsfw') ?? undefined);
      const withMeta = q.get('withMeta') === 'true';
      const versionId = q.has('modelVersionId') ? Number(q.get('modelVersionId')) : undefined;
      const modelId = q.has('modelId') ? Number(q.get('modelId')) : undefined;
      const imageId = q.has('imageId') ? Number(q.get('imageId')) : undefined;
      const wrapMeta = versionId === undefined && (modelId !== undefined || imageId !== undefined) && q.get('flatMeta') !== 'true';
      const versionIds =
        versionId !== undefined
          ? [versionId]
          : modelId !== undefined
            ? catalog.versionIdsOfModel(modelId)
            : catalog.allVersionIds();
      let items = versionIds.flatMap((vid) =>
        catalog.versionImages(vid).map((image) => toImageItem(image, vid, withMeta, wrapMeta)),
      );
      items = items.filter((item) => ((item.browsingLevel as number) & mask) !== 0);
      if (imageId !== undefined) items = items.filter((item) => item.id === imageId);
      const type = q.get('type');
      if (type) items = items.filter((item) => item.type === type);
      const username = q.get('username');
      if (username) items = items.filter((item) => item.username === username);
      const page = items.slice(p.offset, p.offset + p.limit);
      return json(200, { items: page, metadata: pageMetadata(url, items.length, p.offset, p.limit, p.page) }, { 'cache-control': PUBLIC_CACHE });
    }
    return html404();
  };

  const route = async (req: IncomingMessage, url: URL, text: string): Promise<Reply> => {
    const path = url.pathname;
    if (path.startsWith('/cdn/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return errorReply(405, 'Method not allowed');
      const answer = await serveCdn(path.slice('/cdn/'.length), catalog.media);
      return {
        status: answer.status,
        headers: { 'content-type': answer.contentType, 'cache-control': 'public, max-age=31536000, immutable' },
        body: answer.body,
      };
    }
    if (path.startsWith('/api/v1/')) return api(req, url, path.slice('/api/v1'.length), text);
    return html404();
  };

  const faultReply = (fault: FaultKind, path: string): Reply | undefined => {
    switch (fault) {
      case '429': {
        const headers: Record<string, string> = {};
        const retry = faults.retryAfter;
        if (retry !== undefined && retry !== null) headers['retry-after'] = String(retry);
        return errorReply(429, 'Rate limit exceeded, please retry shortly.', headers);
      }
      case '500':
        return errorReply(500, 'An unexpected error occurred');
      case '503-html': {
        const ray = (seedFrom(`${path}:${requests.length}`).toString(16) + '0000000000000000').slice(0, 16);
        return {
          status: 503,
          headers: {
            'content-type': 'text/html; charset=UTF-8',
            server: 'cloudflare',
            'cf-ray': `${ray}-FRA`,
            'cache-control': 'private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0',
          },
          body: Buffer.from(cloudflare503(ray)),
        };
      }
      default:
        return undefined;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      search: url.search,
      headers: { ...req.headers },
    };
    requests.push(record);
    const text = await readBody(req);
    if (text) record.body = text;
    const decision = faults.decide(url.pathname);
    if (decision.fault !== 'none') record.fault = decision.fault;
    if (decision.delayMs > 0) {
      record.delayMs = decision.delayMs;
      await sleep(decision.delayMs);
    }

    let reply = faultReply(decision.fault, url.pathname);
    if (!reply) {
      reply = await route(req, url, text);
      if (reply.headers['content-type']?.startsWith('application/json')) {
        let bodyText = rewrite(reply.body.toString('utf8'));
        const descriptionChars = faults.descriptionChars(url.pathname);
        if (descriptionChars !== undefined) bodyText = padDescriptions(bodyText, descriptionChars);
        reply.body = Buffer.from(bodyText);
      }
    }
    record.status = decision.fault === 'truncated' ? 200 : reply.status;

    const headers: Record<string, string> = {
      'access-control-allow-origin': '*',
      'x-fake-civitai': '1',
      ...reply.headers,
    };
    const body = reply.body;
    const bodyFault = faults.bodyFault(url.pathname);
    if (bodyFault && req.method !== 'HEAD') {
      record.bodyFault = bodyFault.kind;
      await sendFaultyBody(res, record, reply.status, headers, body, bodyFault);
      return;
    }
    if (decision.fault === 'truncated') {
      const half = body.subarray(0, Math.floor(body.length / 2));
      res.writeHead(200, { ...headers, 'content-length': String(half.length) });
      res.end(req.method === 'HEAD' ? undefined : half);
      return;
    }
    if (decision.fault === 'drop') {
      res.writeHead(reply.status, { ...headers, 'content-length': String(body.length) });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
        res.socket?.destroy();
      });
      return;
    }
    res.writeHead(reply.status, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        const body = JSON.stringify({ message: 'An unexpected error occurred', error: String(error) });
        res.writeHead(500, { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      } else {
        res.destroy();
      }
    });
  });
  // Connections stay open between requests, as a real CDN's do: at 1 s, clients (which leave a
  // margin below the server's hint) opened a connection per download, and the benchmarks
  // measured TCP set-up instead of the engine. `close()` ends open connections itself.
  server.keepAliveTimeout = 5000;

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: origin,
    apiBaseUrl: `${origin}/api/v1`,
    port,
    requests,
    faultCounts: faults.counts,
    setFaults: (f) => faults.set(f),
    cdnUrl: (civitaiUrl) => rewrite(civitaiUrl),
    catalog,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
