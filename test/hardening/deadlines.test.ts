/**
 * Deadlines, size caps and text caps of the one HTTP layer, against the fake CivitAI's body
 * faults (127.0.0.1 only):
 *
 * - `api.timeout` bounds the whole exchange, the body included (a body dripping one byte every
 *   200 ms fails), and an idle deadline fails a body that stops arriving; both are timeouts,
 *   retried per the retry policy, never "not found";
 * - the size caps hold while streaming: a Content-Length past the cap is refused before reading,
 *   a body without one (or one that inflates when decoded) is cut off as soon as it passes the cap;
 * - oversize text in API bodies is truncated where bodies are received, with one warning per
 *   model/version and field, before anything is cached or written;
 * - in a whole run: a timed-out preview is a failed preview (reported) that leaves the preview
 *   already on disk untouched, and sidecars stay small when every body has a 10 MB description.
 *
 * Small configured deadlines and caps keep it fast; the per-test timeouts are a safety net for a
 * regression that hangs, never an assertion.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCivitaiClient, CivitaiRequestError, type ClientLimits, type ResponseStore } from '../../src/integration/engine/civitai/client.ts';
import { MAX_JSON_BYTES, withRequestSignal } from '../../src/integration/engine/civitai/http.ts';
import { MAX_DESCRIPTION_CHARS, MAX_TEXT_CHARS } from '../../src/integration/engine/civitai/schemas.ts';
import { ApiSchema } from '../../src/integration/engine/config/schema.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import type { RecordedRequest } from '../../src/dev/fake-civitai/index.ts';
import { copyLibrary, createHardeningWorkspace, identifiedEntries, readTree, type HardeningWorkspace } from './helpers.ts';

const MIB = 1024 * 1024;
/** The most a socket read hands over at once (Node's 64 KiB stream chunks). */
const ONE_CHUNK = 64 * 1024;
const SAFETY_NET = { timeout: 60_000 };

let ws: HardeningWorkspace;
let modelId: number;
let versionId: number;
let imageUrl: string;

beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-deadlines-');
  const version = identifiedEntries(ws.library)[0]?.binding?.versionId;
  if (version === undefined) throw new Error('the sample library has no identified entry');
  versionId = version;
  const model = ws.fake.catalog.modelOf(versionId);
  if (!model) throw new Error(`no model for version ${versionId}`);
  modelId = model.id;
  const image = ws.fake.catalog.versionImages(versionId)[0];
  if (!image) throw new Error(`no image for version ${versionId}`);
  imageUrl = ws.fake.cdnUrl(image.url);
});
afterAll(async () => {
  await ws?.close();
});
beforeEach(() => {
  ws.fake.setFaults({});
});

function client(
  api: Record<string, unknown>,
  options: { limits?: ClientLimits; logger?: Logger; cache?: ResponseStore } = {},
) {
  const config = ApiSchema.parse({
    base_url: ws.fake.apiBaseUrl,
    max_retries: 2,
    ...api,
    batch: { retry_delay: 1, rate_limit: 1_000_000, circuit_breaker: { failure_threshold: 100, reset_timeout: 0.05 } },
  });
  return createCivitaiClient(config, {
    sleep: async () => {},
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.cache ? { cache: { store: options.cache, maxAgeSeconds: 3600, bypass: false } } : {}),
  });
}

const requestsTo = (pathname: string, from: number): RecordedRequest[] =>
  ws.fake.requests.slice(from).filter((request) => request.path === pathname);

/** The fake's records of body faults are complete once it saw the connection close (or the body end). */
async function settled(records: () => RecordedRequest[]): Promise<RecordedRequest[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const list = records();
    if (list.length > 0 && list.every((record) => record.bodyFault === undefined || record.clientClosedEarly !== undefined)) return list;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return records();
}

async function failureOf(promise: Promise<unknown>): Promise<CivitaiRequestError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) {
    const bytes = (outcome.value as { bytes?: Buffer } | undefined)?.bytes;
    throw new Error(`expected a failure, got ${bytes ? `${bytes.length} bytes` : JSON.stringify(outcome.value)?.slice(0, 200)}`);
  }
  expect(outcome.error).toBeInstanceOf(CivitaiRequestError);
  return outcome.error as CivitaiRequestError;
}

describe('deadlines', () => {
  it('api.timeout bounds the body too: an image dripping a byte every 200 ms times out, retried per the policy', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'drip', dripIntervalMs: 200, paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const failure = await failureOf(client({ timeout: 0.5, max_retries: 2 }).download(imageUrl));
    expect(failure.kind).toBe('timeout');
    expect(failure.message).toMatch(/timed out/);
    const attempts = await settled(() => requestsTo(new URL(imageUrl).pathname, from));
    // max_retries 2: three attempts, each cut off before its body was complete.
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) expect(attempt.clientClosedEarly).toBe(true);
  });

  it('an API body that drips is a timeout (a transport failure), never "not found"', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'drip', dripIntervalMs: 200, paths: `/api/v1/models/${modelId}` });
    const from = ws.fake.requests.length;
    const failure = await failureOf(client({ timeout: 0.5, max_retries: 1 }).getModel(modelId));
    expect(failure.kind).toBe('timeout');
    expect(await settled(() => requestsTo(`/api/v1/models/${modelId}`, from))).toHaveLength(2);
  });

  it('the idle deadline fails a body that stops arriving, long before the total deadline', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'stall', paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const failure = await failureOf(client({ timeout: 600, max_retries: 0 }, { limits: { idleTimeoutMs: 200 } }).download(imageUrl));
    expect(failure.kind).toBe('timeout');
    expect(failure.message).toMatch(/no data for 0\.2 s/);
    const [attempt] = await settled(() => requestsTo(new URL(imageUrl).pathname, from));
    expect(attempt?.clientClosedEarly).toBe(true);
  });
});

describe('cancelling (the abort signal: Ctrl-C twice, or the grace period after the first)', () => {
  /** Until the fake has the request (and, with a body fault, has started sending its body). */
  const waitForRequest = async (pathname: string, from: number, bodyStarted = false) => {
    const ready = () => requestsTo(pathname, from).some((request) => !bodyStarted || request.bodyBytesSent !== undefined);
    for (let attempt = 0; attempt < 500 && !ready(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it('cuts a download in flight: `aborted`, not retried; a client created in the scope of withRequestSignal gets that signal', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'drip', dripIntervalMs: 200, paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const controller = new AbortController();
    const api = withRequestSignal(controller.signal, () => client({ timeout: 600, max_retries: 3 }));
    const pending = failureOf(api.download(imageUrl));
    await waitForRequest(new URL(imageUrl).pathname, from, true);
    controller.abort();
    const failure = await pending;
    expect(failure.kind).toBe('aborted');
    const attempts = await settled(() => requestsTo(new URL(imageUrl).pathname, from));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.clientClosedEarly).toBe(true);
    // And nothing new goes out.
    expect((await failureOf(api.getModel(modelId))).kind).toBe('aborted');
    expect(requestsTo(`/api/v1/models/${modelId}`, from)).toEqual([]);
  });

  it('ends a wait for Retry-After at once', SAFETY_NET, async () => {
    ws.fake.setFaults({ failNext: ['429'], retryAfter: 120, paths: `/api/v1/models/${modelId}` });
    const from = ws.fake.requests.length;
    const controller = new AbortController();
    // The real timers: the client waits the 120 s CivitAI asked for, unless cancelled.
    const config = ApiSchema.parse({ base_url: ws.fake.apiBaseUrl, timeout: 30, max_retries: 3, batch: { rate_limit: 1_000_000 } });
    const api = createCivitaiClient(config, { signal: controller.signal });
    const pending = failureOf(api.getModel(modelId));
    await waitForRequest(`/api/v1/models/${modelId}`, from);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect((await pending).kind).toBe('aborted');
    expect(requestsTo(`/api/v1/models/${modelId}`, from)).toHaveLength(1);
  });
});

describe('size caps while streaming', () => {
  const limits = { maxDownloadBytes: MIB, maxJsonBytes: MIB };
  const body = 128 * MIB;

  it('a Content-Length past the cap is refused before reading, and not asked again', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'oversize', oversizeBytes: body, paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const failure = await failureOf(client({ timeout: 30 }, { limits }).download(imageUrl));
    expect(failure.kind).toBe('too-large');
    expect(failure.bytesRead).toBe(0);
    const attempts = await settled(() => requestsTo(new URL(imageUrl).pathname, from));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.clientClosedEarly).toBe(true);
    // What the socket accepted is at most what the kernel buffers, nowhere near the body.
    expect(attempts[0]?.bodyBytesSent ?? Infinity).toBeLessThan(body / 4);
  });

  it('without Content-Length the download stops once the bytes pass the cap (cap + one chunk at most)', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'oversize-chunked', oversizeBytes: body, paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const failure = await failureOf(client({ timeout: 30 }, { limits }).download(imageUrl));
    expect(failure.kind).toBe('too-large');
    expect(failure.bytesRead).toBeGreaterThan(MIB);
    expect(failure.bytesRead).toBeLessThanOrEqual(MIB + ONE_CHUNK);
    const attempts = await settled(() => requestsTo(new URL(imageUrl).pathname, from));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.clientClosedEarly).toBe(true);
    expect(attempts[0]?.bodyBytesSent ?? Infinity).toBeLessThan(body / 4);
  });

  it('a small Content-Length over a body that inflates past the cap (gzip) stops at the cap too', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'gzip-bomb', oversizeBytes: body, paths: '/cdn/' });
    const failure = await failureOf(client({ timeout: 30 }, { limits }).download(imageUrl));
    expect(failure.kind).toBe('too-large');
    expect(failure.bytesRead).toBeLessThanOrEqual(MIB + ONE_CHUNK);
  });

  it('a lying Content-Length (small, with a huge body behind it) never reads past it', SAFETY_NET, async () => {
    ws.fake.setFaults({ bodyFault: 'lying-length', lyingLength: 1024, oversizeBytes: body, paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const outcome = await client({ timeout: 30, max_retries: 0 }, { limits }).download(imageUrl).then(
      (value) => ({ bytes: value.bytes.length }),
      (error: unknown) => ({ error: error as CivitaiRequestError }),
    );
    // Either the 1024 bytes announced or a clean transport failure; never the body behind it.
    if ('error' in outcome) {
      expect(outcome.error).toBeInstanceOf(CivitaiRequestError);
      expect(outcome.error.bytesRead ?? 0).toBeLessThanOrEqual(1024);
    } else {
      expect(outcome.bytes).toBeLessThanOrEqual(1024);
    }
    const attempts = await settled(() => requestsTo(new URL(imageUrl).pathname, from));
    expect(attempts[0]?.bodyBytesSent ?? Infinity).toBeLessThan(body / 4);
  });

  it('API bodies have their own cap (32 MiB by default): past it, a too-large failure, not retried, never "not found"', SAFETY_NET, async () => {
    expect(MAX_JSON_BYTES).toBe(32 * MIB);
    ws.fake.setFaults({ bodyFault: 'oversize-chunked', oversizeBytes: 8 * MIB, paths: `/api/v1/models/${modelId}` });
    const from = ws.fake.requests.length;
    const failure = await failureOf(client({ timeout: 30 }, { limits }).getModel(modelId));
    expect(failure.kind).toBe('too-large');
    expect(failure.bytesRead).toBeLessThanOrEqual(MIB + ONE_CHUNK);
    expect(await settled(() => requestsTo(`/api/v1/models/${modelId}`, from))).toHaveLength(1);
  });
});

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => {};
  return { warnings, debug: ignore, info: ignore, warn: (message: string) => warnings.push(message), error: ignore } as Logger & {
    warnings: string[];
  };
}

describe('text caps of API bodies', () => {
  const CHARS = 10 * 1000 * 1000;

  it('truncates a 10 MB description, says so once per model/version and field, and caches the capped body', SAFETY_NET, async () => {
    ws.fake.setFaults({ descriptionChars: CHARS, paths: '/api/' });
    const logger = recordingLogger();
    const stored = new Map<string, { status: number; body: string }>();
    const cache: ResponseStore = { get: (key) => stored.get(key), set: (key, value) => void stored.set(key, value) };
    const api = client({ timeout: 30 }, { logger, cache });

    const answer = await api.getModel(modelId);
    expect(answer.found).toBe(true);
    const model = answer.found ? answer.value : undefined;
    expect(model?.description?.length).toBeGreaterThan(MAX_DESCRIPTION_CHARS - 1);
    expect(model?.description?.length).toBeLessThan(MAX_DESCRIPTION_CHARS + 100);
    expect(model?.description).toMatch(/…\[truncated\]$/);
    for (const version of model?.modelVersions ?? []) {
      if (typeof version.description === 'string') expect(version.description.length).toBeLessThan(MAX_DESCRIPTION_CHARS + 100);
    }
    // One warning for the model body, naming the model, each field and the versions inside.
    const modelWarnings = logger.warnings.filter((message) => message.includes(`for model ${modelId} `));
    expect(modelWarnings).toHaveLength(1);
    expect(modelWarnings[0]).toMatch(/oversize text/);
    expect(modelWarnings[0]).toMatch(/: truncated description \(10000000 characters, kept 262144\)/);
    const firstVersion = model?.modelVersions?.[0]?.id;
    if (firstVersion !== undefined) expect(modelWarnings[0]).toContain(`version ${firstVersion}: description (10000000 characters`);
    // Nothing stored holds the oversize text.
    for (const value of stored.values()) expect(value.body.length).toBeLessThan(4 * MIB);

    // The same model again: no second warning for the same field.
    const before = logger.warnings.length;
    await api.getModels([modelId]);
    expect(logger.warnings.slice(before).filter((message) => message.includes(`for model ${modelId} `))).toEqual([]);

    const sha = identifiedEntries(ws.library)[0]?.sha256 as string;
    const version = await api.getVersionByHash(sha);
    expect(version.found).toBe(true);
    if (version.found) expect((version.value.description ?? '').length).toBeLessThan(MAX_DESCRIPTION_CHARS + 100);
    expect(logger.warnings.some((message) => message.includes(`version ${versionId} of model ${modelId}`) && message.includes('description'))).toBe(true);
  });

  it('caps every other string at a smaller size, wherever it is', async () => {
    const { capApiText } = await import('../../src/integration/engine/civitai/schemas.ts');
    const body = { id: 5, modelId: 9, name: 'x'.repeat(MAX_TEXT_CHARS + 10), images: [{ id: 7, meta: { prompt: 'p'.repeat(MAX_TEXT_CHARS * 2) } }], trainedWords: ['w'.repeat(MAX_TEXT_CHARS + 1)] };
    const cut = capApiText(body, 'version');
    expect(body.name.length).toBeLessThan(MAX_TEXT_CHARS + 20);
    expect(body.images[0]?.meta.prompt.length).toBeLessThan(MAX_TEXT_CHARS + 20);
    expect(body.trainedWords[0]?.length).toBeLessThan(MAX_TEXT_CHARS + 20);
    expect(cut.map((entry) => `${entry.owner} / ${entry.field}`).sort()).toEqual([
      'version 5 of model 9 / image 7: meta.prompt',
      'version 5 of model 9 / name',
      'version 5 of model 9 / trainedWords[0]',
    ]);
  });
});

describe('in a whole run', () => {
  const JOB = { output: { images: { max_count: 2, width: 96 } } };

  it('a preview that times out is reported as failed and leaves the preview already on disk untouched', SAFETY_NET, async () => {
    // A library after a good run, whose sidecars were lost: the previews on disk are downloaded again.
    const good = await copyLibrary(ws, 'timeout-good', { job: JOB });
    await runScanJob({ config: good.config, job: good.job, jobName: good.name });
    const before = await readTree(good.dir);
    const previews = [...before.keys()].filter((relative) => /\.(png|jpe?g|webp|gif|mp4|webm|avif)$/i.test(relative));
    expect(previews.length).toBeGreaterThan(0);
    const sidecars = [...before.keys()].filter((relative) => /\.(json|civitai\.info)$/.test(relative));
    for (const relative of sidecars) await rm(path.join(good.dir, relative));

    // A breaker that never opens: every preview gets its own attempts.
    const api = { timeout: 0.3, max_retries: 1, batch: { circuit_breaker: { failure_threshold: 10_000, reset_timeout: 0.05 } } };
    const setup = await copyLibrary(ws, 'timeout-run', { job: JOB, api, from: good.dir });
    ws.fake.setFaults({ bodyFault: 'drip', dripIntervalMs: 200, paths: '/cdn/' });
    const from = ws.fake.requests.length;
    const { records, report } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
    ws.fake.setFaults({});

    expect(report.images.failed).toBeGreaterThan(0);
    expect(report.images.downloaded).toBe(0);
    const imageWarnings = report.warnings.filter((warning) => warning.stage === 'images');
    expect(imageWarnings.length).toBeGreaterThan(0);
    for (const warning of imageWarnings) expect(warning.message).toMatch(/timed out/);
    // Identification did not suffer: a failed download is never "not found".
    for (const entry of identifiedEntries(ws.library)) {
      const record = records.find((candidate) => candidate.file.path === path.join(setup.dir, entry.relativePath));
      expect(record?.civitai.status, entry.relativePath).toBe('identified');
    }
    // Each preview was tried once and retried once (max_retries 1).
    const perUrl = new Map<string, number>();
    for (const request of ws.fake.requests.slice(from)) if (request.path.startsWith('/cdn/')) perUrl.set(request.path + request.search, (perUrl.get(request.path + request.search) ?? 0) + 1);
    expect(perUrl.size).toBeGreaterThan(0);
    for (const count of perUrl.values()) expect(count).toBe(2);
    // The previews from the good run are exactly as they were.
    const after = await readTree(setup.dir);
    for (const relative of previews) expect(after.get(relative)?.equals(before.get(relative) as Buffer), relative).toBe(true);
  });

  it('a 10 MB description in every body leaves small sidecars', SAFETY_NET, async () => {
    const setup = await copyLibrary(ws, 'huge-description', { job: JOB });
    // Version bodies (by hash, batched) and model bodies; not the /models list, whose pages of
    // models with dozens of versions would make the fake build bodies of gigabytes.
    ws.fake.setFaults({ descriptionChars: 10 * 1000 * 1000, paths: /^\/api\/v1\/(model-versions\/|models\/\d)/ });
    const logger = recordingLogger();
    const { report } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, logger });
    ws.fake.setFaults({});
    expect(report.api.identified).toBe(identifiedEntries(ws.library).length);
    const written = [...(await readTree(setup.dir)).keys()].filter((relative) => /\.(json|civitai\.info)$/.test(relative));
    expect(written.length).toBeGreaterThan(0);
    for (const relative of written) expect((await stat(path.join(setup.dir, relative))).size, relative).toBeLessThan(2 * MIB);
    const sample = written.find((relative) => relative.endsWith('.civitai.info'));
    if (sample) expect(await readFile(path.join(setup.dir, sample), 'utf8')).toMatch(/…\[truncated\]/);
    expect(logger.warnings.filter((message) => /oversize text/.test(message)).length).toBeGreaterThan(0);
  });
});
