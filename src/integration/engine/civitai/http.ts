/**
 * The one network layer: API calls and image downloads both go through it, so deadlines, body
 * caps, retries, circuit breakers and the rule about where the API key may go hold everywhere.
 * The per-minute budget is the API's; downloads are paced by how many run at once per host.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../util/logger.ts';
import { AdaptiveConcurrency, AdaptiveTokenBucket, CircuitBreaker, Semaphore } from './flow-control.ts';

/** `aborted`: cancelled by the caller (Ctrl-C); never retried. */
export type RequestFailureKind = 'network' | 'timeout' | 'http' | 'bad-body' | 'too-large' | 'circuit-open' | 'aborted';

/** A request that failed for good (after retries). Never means "not found". */
export class CivitaiRequestError extends Error {
  override name = 'CivitaiRequestError';
  readonly kind: RequestFailureKind;
  readonly status: number | undefined;
  readonly url: string;
  /** Body bytes received before the request was given up (set for `too-large`). */
  bytesRead?: number;
  constructor(kind: RequestFailureKind, url: string, message: string, status?: number) {
    super(message);
    this.kind = kind;
    this.url = url;
    this.status = status;
  }
}

/**
 * Largest body kept in memory: previews and videos (`download`), and API answers
 * (`requestJson`; real ones are a few MB at most, a batch of 100 versions included).
 * Past it a request fails with `too-large`, before reading when Content-Length says so,
 * otherwise as soon as the bytes received pass it.
 */
export const MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;
export const MAX_JSON_BYTES = 32 * 1024 * 1024;

/**
 * The idle deadline when none is given: a third of the total deadline (`api.timeout`), at
 * least 1 s and never more than the total (30 s → 10 s). It runs while the body arrives and
 * starts again with every chunk: a body that stops arriving fails that long after its last byte
 * instead of holding its slot until the total deadline. Waiting for the headers is bounded by the
 * total deadline only, since CivitAI may think for a while before it answers.
 */
export function defaultIdleTimeoutMs(timeoutMs: number): number {
  return Math.min(timeoutMs, Math.max(1000, Math.round(timeoutMs / 3)));
}

/**
 * The abort signal of the clients created inside `task` that were given none: how the command
 * line cancels the requests in flight on a second Ctrl-C (or after the grace period) without
 * every layer between it and the client passing a signal along.
 */
const requestSignalScope = new AsyncLocalStorage<AbortSignal>();

export function withRequestSignal<T>(signal: AbortSignal, task: () => T): T {
  return requestSignalScope.run(signal, task);
}

export interface HttpOptions {
  /** Base URL of the API (`https://civitai.com/api/v1`): only URLs below it receive the key. */
  apiBaseUrl: string;
  apiKey?: string;
  userAgent: string;
  /** Total deadline of one exchange: connecting, the headers and the whole body. */
  timeoutMs: number;
  /** No body byte for this long fails the request (default: `defaultIdleTimeoutMs(timeoutMs)`). */
  idleTimeoutMs?: number;
  /** Body caps (defaults `MAX_DOWNLOAD_BYTES`, `MAX_JSON_BYTES`). */
  maxDownloadBytes?: number;
  maxJsonBytes?: number;
  /**
   * Cancels the requests in flight and refuses new ones (kind `aborted`, never retried).
   * Default: the signal of the enclosing `withRequestSignal`, if any.
   */
  signal?: AbortSignal;
  maxRetries: number;
  retryDelayMs: number;
  /**
   * The API's budget (`api.batch.rate_limit`), per host. Image downloads are not held to it:
   * they are paced by how many run at once per host (`DOWNLOAD_CONCURRENCY`, halved on 429/503).
   */
  requestsPerMinute: number;
  /** API requests at once (`api.batch.max_concurrent`). */
  maxConcurrent: number;
  breakerThreshold: number;
  breakerResetMs: number;
  logger?: Logger;
  /** Injected by tests to avoid real waiting. */
  sleep?: (ms: number) => Promise<void>;
}

export interface HttpStats {
  /** Requests sent to the API (each retry counts). */
  apiRequests: number;
  /** Requests sent elsewhere (image CDN). */
  downloadRequests: number;
  retries: number;
  /** 429 answers received. */
  throttled: number;
  /** Calls refused at once because a circuit breaker was open. */
  shortCircuited: number;
  downloadedBytes: number;
}

export interface JsonResponse {
  status: number;
  /** Parsed body; undefined when the body was not JSON. */
  json: unknown;
  text: string;
  contentType: string;
}

export interface BinaryResponse {
  status: number;
  bytes: Buffer;
  contentType: string;
}

const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 120_000;
/**
 * Image downloads at once per host while it answers well. The preview stage asks for fewer
 * (one model's previews after another, `api.batch.max_concurrent` models at once), so this is
 * the ceiling the back-off starts from, not a budget.
 */
export const DOWNLOAD_CONCURRENCY = 8;

interface Attempt<T> {
  /** A final answer. */
  value?: T;
  /**
   * A failure worth another try, with the server's requested wait if any. `throttled`: a 429;
   * `busy`: a 429 or 503 from the image CDN, which halves its downloads at once.
   */
  retry?: { error: CivitaiRequestError; afterMs?: number; throttled?: boolean; busy?: boolean };
}

interface RawResponse {
  status: number;
  bytes: Buffer;
  contentType: string;
  retryAfter: string | null;
  expectedLength?: number;
}

export class HttpClient {
  readonly stats: HttpStats = { apiRequests: 0, downloadRequests: 0, retries: 0, throttled: 0, shortCircuited: 0, downloadedBytes: 0 };
  private readonly options: HttpOptions;
  private readonly buckets = new Map<string, AdaptiveTokenBucket>();
  private readonly downloadSlots = new Map<string, AdaptiveConcurrency>();
  private readonly slots: Semaphore;
  private readonly breaker: CircuitBreaker;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly signal: AbortSignal | undefined;
  private readonly idleTimeoutMs: number;

  constructor(options: HttpOptions) {
    this.options = options;
    this.signal = options.signal ?? requestSignalScope.getStore();
    this.idleTimeoutMs = options.idleTimeoutMs ?? defaultIdleTimeoutMs(options.timeoutMs);
    // Waits (backoff, Retry-After, the rate limit) end at once when the signal aborts, and the
    // timer with them.
    const sleep = options.sleep ?? ((ms: number) => delay(ms, undefined, this.signal ? { signal: this.signal } : {}));
    this.sleep = (ms) => this.abortable(sleep(ms));
    this.slots = new Semaphore(options.maxConcurrent);
    this.breaker = new CircuitBreaker(options.breakerThreshold, options.breakerResetMs);
  }

  /** GET or POST JSON. 4xx answers are returned (the caller decides what a 404 means). */
  async requestJson(method: 'GET' | 'POST', url: string, body?: unknown): Promise<JsonResponse> {
    return this.withRetries(url, 'api', async () => {
      const response = await this.send(url, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        accept: 'application/json',
        maxBytes: this.options.maxJsonBytes ?? MAX_JSON_BYTES,
      });
      const text = response.bytes.toString('utf8');
      const isHtml = /text\/html/i.test(response.contentType) || /^\s*<(!doctype|html)/i.test(text);
      let json: unknown;
      if (!isHtml) {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      if (response.status === 429 || response.status >= 500) {
        const error = new CivitaiRequestError(
          'http',
          url,
          `CivitAI answered ${response.status}${isHtml ? ' (an HTML error page)' : ''}`,
          response.status,
        );
        return { retry: { error, afterMs: parseRetryAfter(response.retryAfter), throttled: response.status === 429 } };
      }
      if (response.status >= 200 && response.status < 300 && json === undefined) {
        const what = isHtml ? 'an HTML page instead of JSON' : 'a truncated or malformed JSON body';
        return { retry: { error: new CivitaiRequestError('bad-body', url, `CivitAI sent ${what}`, response.status) } };
      }
      return { value: { status: response.status, json, text, contentType: response.contentType } };
    });
  }

  /**
   * Downloads a file into memory (previews are small); retried like API calls, but paced per
   * host by concurrency (AIMD on 429/503), not by the API's per-minute budget.
   */
  async download(url: string): Promise<BinaryResponse> {
    return this.withRetries(url, 'download', async () => {
      const response = await this.send(url, {
        method: 'GET',
        headers: {},
        accept: '*/*',
        maxBytes: this.options.maxDownloadBytes ?? MAX_DOWNLOAD_BYTES,
        download: true,
      });
      if (response.status === 429 || response.status >= 500) {
        const error = new CivitaiRequestError('http', url, `the image server answered ${response.status}`, response.status);
        const afterMs = parseRetryAfter(response.retryAfter);
        return { retry: { error, afterMs, throttled: response.status === 429, busy: response.status === 429 || response.status === 503 } };
      }
      if (response.status < 200 || response.status >= 300) {
        throw new CivitaiRequestError('http', url, `the image server answered ${response.status}`, response.status);
      }
      if (response.expectedLength !== undefined && response.expectedLength !== response.bytes.length) {
        const error = new CivitaiRequestError(
          'bad-body',
          url,
          `download cut short (${response.bytes.length} of ${response.expectedLength} bytes)`,
        );
        return { retry: { error } };
      }
      this.stats.downloadedBytes += response.bytes.length;
      return { value: { status: response.status, bytes: response.bytes, contentType: response.contentType } };
    });
  }

  private async withRetries<T>(url: string, kind: 'api' | 'download', attempt: () => Promise<Attempt<T>>): Promise<T> {
    const group = this.breakerKey(url);
    const bucket = kind === 'api' ? this.bucketFor(url) : undefined;
    const downloads = kind === 'download' ? this.downloadSlotsFor(url) : undefined;
    let lastError: CivitaiRequestError | undefined;
    for (let tryIndex = 0; tryIndex <= this.options.maxRetries; tryIndex += 1) {
      if (!this.breaker.allow(group)) {
        this.stats.shortCircuited += 1;
        throw new CivitaiRequestError(
          'circuit-open',
          url,
          `${lastError ? `${lastError.message}; ` : ''}too many failures in a row for ${group}: not asking again for ${Math.ceil(this.breaker.retryInMs(group) / 1000)} s`,
        );
      }
      if (tryIndex > 0) this.stats.retries += 1;
      let outcome: Attempt<T>;
      try {
        await bucket?.take();
        outcome = await attempt();
      } catch (error) {
        const failure = toRequestError(error, url);
        // Cancelled by us: says nothing about the endpoint.
        if (failure.kind === 'aborted') throw failure;
        if (failure.kind !== 'network' && failure.kind !== 'timeout') {
          // A definite answer (4xx): the endpoint works, so it does not count against it.
          this.breaker.success(group);
          throw failure;
        }
        outcome = { retry: { error: failure } };
      }
      if (outcome.retry === undefined) {
        this.breaker.success(group);
        bucket?.onSuccess();
        downloads?.onSuccess();
        return outcome.value as T;
      }
      lastError = outcome.retry.error;
      // A CDN asking us to slow down is alive: it gets fewer downloads at once, and its 429s do
      // not open the breaker (which would fail every preview for the reset time).
      if (downloads && outcome.retry.throttled) this.breaker.success(group);
      else this.breaker.failure(group);
      if (outcome.retry.throttled) {
        this.stats.throttled += 1;
        bucket?.onThrottled();
      }
      if (outcome.retry.busy) downloads?.onThrottled(outcome.retry.afterMs);
      if (tryIndex === this.options.maxRetries) break;
      const backoff = Math.min(MAX_BACKOFF_MS, this.options.retryDelayMs * 2 ** tryIndex);
      const wait = outcome.retry.afterMs ?? backoff * (0.5 + Math.random());
      this.options.logger?.debug(
        `retry ${tryIndex + 1}/${this.options.maxRetries} in ${Math.round(wait)} ms: ${lastError.message} (${redactUrl(url)})`,
      );
      await this.sleep(wait);
    }
    throw lastError ?? new CivitaiRequestError('network', url, 'request failed');
  }

  private isApi(url: string): boolean {
    return isBelow(url, this.options.apiBaseUrl);
  }

  /** API calls by endpoint (`model-versions`, `models`, `images`); downloads by host. */
  private breakerKey(url: string): string {
    if (!this.isApi(url)) return new URL(url).host;
    const base = new URL(this.options.apiBaseUrl).pathname.replace(/\/+$/, '');
    return new URL(url).pathname.slice(base.length).split('/').filter(Boolean)[0] ?? 'api';
  }

  private downloadSlotsFor(url: string): AdaptiveConcurrency {
    const host = new URL(url).host;
    let slots = this.downloadSlots.get(host);
    if (!slots) {
      slots = new AdaptiveConcurrency(DOWNLOAD_CONCURRENCY, this.sleep);
      this.downloadSlots.set(host, slots);
    }
    return slots;
  }

  private bucketFor(url: string): AdaptiveTokenBucket {
    const host = new URL(url).host;
    let bucket = this.buckets.get(host);
    if (!bucket) {
      bucket = new AdaptiveTokenBucket(this.options.requestsPerMinute, this.sleep);
      this.buckets.set(host, bucket);
    }
    return bucket;
  }

  private async send(
    url: string,
    init: { method: string; body?: string; headers: Record<string, string>; accept: string; maxBytes: number; download?: boolean },
  ): Promise<RawResponse> {
    const toApi = this.isApi(url);
    const headers: Record<string, string> = {
      ...init.headers,
      accept: init.accept,
      'user-agent': this.options.userAgent,
    };
    // The key is only ever sent below the configured API base URL: never to the image CDN,
    // and a redirect is not followed with it (see `redirect` below).
    if (toApi && this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    // Downloads have slots of their own per host, so previews never wait behind API calls.
    const slots = init.download ? this.downloadSlotsFor(url) : this.slots;
    return slots.run(async () => {
      if (this.signal?.aborted) throw abortedError(url);
      if (toApi) this.stats.apiRequests += 1;
      else this.stats.downloadRequests += 1;
      this.options.logger?.debug(`${init.method} ${redactUrl(url)}`);
      return this.exchange(
        url,
        {
          method: init.method,
          ...(init.body !== undefined ? { body: init.body } : {}),
          headers,
          followRedirects: !(toApi && this.options.apiKey),
        },
        init.maxBytes,
      );
    });
  }

  /**
   * One request and its whole body, within the total deadline, the idle deadline and the size
   * cap; the caller's signal cancels it. Whichever ends it first closes the connection.
   */
  private async exchange(url: string, request: OutgoingRequest, maxBytes: number): Promise<RawResponse> {
    const { timeoutMs } = this.options;
    const idleMs = this.idleTimeoutMs;
    const controller = new AbortController();
    let stopped: 'deadline' | 'idle' | 'aborted' | 'too-large' | undefined;
    const stop = (why: NonNullable<typeof stopped>) => {
      if (stopped) return;
      stopped = why;
      controller.abort();
    };
    const deadline = setTimeout(() => stop('deadline'), timeoutMs);
    let idle: NodeJS.Timeout | undefined;
    const arrived = () => {
      clearTimeout(idle);
      idle = setTimeout(() => stop('idle'), idleMs);
    };
    const onAbort = () => stop('aborted');
    this.signal?.addEventListener('abort', onAbort, { once: true });
    const failure = (error: unknown): CivitaiRequestError => {
      if (error instanceof CivitaiRequestError) return error;
      if (stopped === 'deadline') return new CivitaiRequestError('timeout', url, `the request timed out (not complete after ${seconds(timeoutMs)})`);
      if (stopped === 'idle') return new CivitaiRequestError('timeout', url, `the request timed out (no data for ${seconds(idleMs)})`);
      if (stopped === 'aborted') return abortedError(url);
      return transportError(error, url);
    };
    const tooLarge = (received: number, declared?: number) => {
      stop('too-large');
      const error = new CivitaiRequestError(
        'too-large',
        url,
        declared !== undefined
          ? `response larger than ${maxBytes} bytes (Content-Length: ${declared}); not downloaded`
          : `response larger than ${maxBytes} bytes; download stopped`,
      );
      error.bytesRead = received;
      return error;
    };
    try {
      let response: IncomingMessage;
      try {
        response = await openFollowing(new URL(url), request, controller.signal);
      } catch (error) {
        throw failure(error);
      }
      const encodings = headerText(response.headers['content-encoding']);
      const lengthHeader = headerText(response.headers['content-length']);
      const declared = /^\s*\d+\s*$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
      // Compressed bodies only grow when decoded: a compressed length past the cap is past it too.
      if (declared !== undefined && declared > maxBytes) {
        response.destroy();
        throw tooLarge(0, declared);
      }
      const bytes = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let received = 0;
        let body: Readable;
        try {
          body = decoded(response, encodings);
        } catch (error) {
          response.destroy();
          reject(failure(error));
          return;
        }
        const fail = (error: unknown) => {
          response.destroy();
          if (body !== response) body.destroy();
          reject(failure(error));
        };
        arrived();
        body.on('data', (chunk: Buffer) => {
          received += chunk.length;
          // Counted as decoded, so a small compressed body that inflates past the cap stops too.
          if (received > maxBytes) {
            fail(tooLarge(received));
            return;
          }
          chunks.push(chunk);
          arrived();
        });
        body.once('end', () => resolve(Buffer.concat(chunks, received)));
        body.on('error', fail);
        // A cancelled or cut connection ends the response without an 'end' on the decoder.
        if (body !== response) response.on('error', fail);
      });
      return {
        status: response.statusCode ?? 0,
        bytes,
        contentType: headerText(response.headers['content-type']),
        retryAfter: response.headers['retry-after'] ?? null,
        ...(declared !== undefined && encodings === '' ? { expectedLength: declared } : {}),
      };
    } finally {
      clearTimeout(deadline);
      clearTimeout(idle);
      this.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** `promise`, or an `aborted` failure as soon as the signal aborts. */
  private abortable<T>(promise: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (!signal) return promise;
    if (signal.aborted) return Promise.reject(abortedError(''));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(abortedError(''));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }
}

/** What `exchange` sends. `followRedirects: false`: a 3xx is the answer (the API with a key). */
interface OutgoingRequest {
  method: string;
  body?: string;
  headers: Record<string, string>;
  followRedirects: boolean;
}

const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * The request on node:http(s) rather than fetch: a run downloads hundreds of previews, and
 * fetch's web streams cost about three times the CPU per response on this path. Bodies are
 * decoded as fetch would (gzip, deflate, br); redirects are followed as fetch follows them.
 */
async function openFollowing(target: URL, request: OutgoingRequest, signal: AbortSignal): Promise<IncomingMessage> {
  let url = target;
  let method = request.method;
  let body = request.body;
  const headers: Record<string, string> = { 'accept-encoding': ACCEPT_ENCODING, ...request.headers };
  for (let hops = 0; ; hops += 1) {
    const response = await open(url, method, headers, body, signal);
    const status = response.statusCode ?? 0;
    const location = headerText(response.headers.location);
    if (!request.followRedirects || !REDIRECT_STATUSES.has(status) || location === '') return response;
    response.destroy();
    if (hops >= MAX_REDIRECTS) throw new CivitaiRequestError('network', target.href, `network error: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new CivitaiRequestError('network', target.href, `network error: redirected to a ${next.protocol} URL`);
    }
    // As fetch does: 303 (and 301/302 after a POST) turn into a GET without the body, and
    // credentials never go along to another origin.
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      delete headers['content-type'];
    }
    if (next.origin !== url.origin) delete headers.authorization;
    url = next;
  }
}

function open(url: URL, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new CivitaiRequestError('network', url.href, `network error: ${url.protocol} URLs cannot be fetched`));
  }
  return new Promise((resolve, reject) => {
    // Loaded when first used, and not through `import`: the ESM view of node:http reads every
    // export, which loads all of undici (fetch, WebSocket) for nothing.
    const send = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : process.getBuiltinModule('node:http').request;
    // The global agents keep connections alive (Node >= 19) and let idle ones go at exit.
    const outgoing = send(url, { method, headers, signal }, resolve);
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const ACCEPT_ENCODING = 'gzip, deflate, br';

/** The body as decoded bytes; unknown encodings are passed through untouched, as fetch does. */
function decoded(response: IncomingMessage, encodings: string): Readable {
  let stream: Readable = response;
  if (encodings === '') return stream;
  const zlib = process.getBuiltinModule('node:zlib');
  // Listed in the order they were applied: undone from the last.
  for (const coding of encodings.toLowerCase().split(',').map((each) => each.trim()).filter(Boolean).reverse()) {
    const decoder =
      coding === 'gzip' || coding === 'x-gzip'
        ? zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH })
        : coding === 'deflate'
          ? zlib.createInflate({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH })
          : coding === 'br'
            ? zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })
            : undefined;
    if (!decoder) continue;
    stream = stream.pipe(decoder);
  }
  return stream;
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

/** A failure of the connection itself (refused, reset, cut short): `network`, named by its code. */
function transportError(error: unknown, url: string): CivitaiRequestError {
  if (error instanceof CivitaiRequestError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNRESET' && error instanceof Error && error.message === 'aborted') {
    return new CivitaiRequestError('network', url, 'network error: the connection closed before the whole body arrived');
  }
  if (code && code !== 'ABORT_ERR') return new CivitaiRequestError('network', url, `network error: ${code}`);
  return toRequestError(error, url);
}

function abortedError(url: string): CivitaiRequestError {
  return new CivitaiRequestError('aborted', url, 'cancelled (interrupted)');
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 1000 ? 3 : 1))} s`;
}

function toRequestError(error: unknown, url: string): CivitaiRequestError {
  if (error instanceof CivitaiRequestError) return error.url || !url ? error : new CivitaiRequestError(error.kind, url, error.message, error.status);
  if (error instanceof Error) {
    const text = `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}`;
    if (/timeout|aborted/i.test(text)) return new CivitaiRequestError('timeout', url, 'the request timed out');
    return new CivitaiRequestError('network', url, `network error: ${shortCause(error)}`);
  }
  return new CivitaiRequestError('network', url, `network error: ${String(error)}`);
}

function shortCause(error: Error): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}

/** Same origin and inside the base path: `https://civitai.com/api/v1/models` is below `https://civitai.com/api/v1`. */
export function isBelow(url: string, base: string): boolean {
  const target = new URL(url);
  const root = new URL(base.endsWith('/') ? base : `${base}/`);
  return target.origin === root.origin && `${target.pathname}/`.startsWith(root.pathname);
}

/** `Retry-After` is either seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(MAX_RETRY_AFTER_MS, seconds * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

/** URLs in logs never carry a `token=` query parameter. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1***');
}
