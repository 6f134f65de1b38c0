/**
 * Previews are written with batched durability (temp → rename, no fsync per file; the folders
 * are fsynced once when the preview stage ends) and many models at once. A kill -9 in the
 * middle of that stage, while downloads and writes are in flight, must leave every preview
 * and sidecar on disk whole (the old file or the new one, never a cut one), and the next run
 * completes the library with whole previews.
 *
 * The suite kills the child when the fake CivitAI receives its Nth CDN request, N spread over
 * the CDN requests of an uninterrupted run, so each kill lands inside the preview stage.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCompleteMedia, sniffMediaType } from '../../src/integration/engine/media/sniff.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { copyLibrary, createHardeningWorkspace, figures, isTempFile, readTree, runEngineChild, type HardeningWorkspace, type LibrarySetup } from './helpers.ts';

let ws: HardeningWorkspace;
const JOB = { output: { images: { max_count: 2, width: 96 } } };
/** CDN requests of an uninterrupted run of a fresh copy, and the previews it could not get. */
let cdnRequests = 0;
let failedPreviews = 0;
const isCdn = (request: { path: string }) => request.path.startsWith('/cdn/');
const MEDIA = /\.(jpe?g|png|webp|gif|mp4|webm)$/i;

beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-preview-crash-');
  const clean = await copyLibrary(ws, 'reference', { job: JOB });
  const before = ws.fake.requests.length;
  const measured = await runEngineChild({ configFile: clean.configFile, out: path.join(ws.root, 'reference.json') });
  expect(measured.code, measured.stderr).toBe(0);
  cdnRequests = ws.fake.requests.slice(before).filter(isCdn).length;
  failedPreviews = Number(measured.result?.report.images?.failed ?? Number.NaN);
});
afterAll(async () => {
  await ws?.close();
});

/** Every picture and sidecar on disk is whole: a picture ends where its format says, JSON parses. */
async function expectWhole(setup: LibrarySetup): Promise<{ media: number; temp: number }> {
  let media = 0;
  let temp = 0;
  for (const [relative, bytes] of await readTree(setup.dir)) {
    if (isTempFile(relative)) {
      temp += 1;
      continue;
    }
    if (MEDIA.test(relative)) {
      media += 1;
      const sniffed = sniffMediaType(bytes);
      expect(sniffed, `${relative}: not a picture or video after kill -9`).toBeDefined();
      expect(isCompleteMedia(bytes, sniffed?.ext ?? ''), `${relative} cut short after kill -9`).toBe(true);
    } else if (/\.(json|civitai\.info)$/.test(relative)) {
      expect(() => JSON.parse(bytes.toString('utf8')), `${relative} after kill -9`).not.toThrow();
    }
  }
  return { media, temp };
}

describe('kill -9 in the preview stage (batched durability, many models at once)', () => {
  for (const share of [0.3, 0.7]) {
    it(`at ${share * 100}% of the CDN requests`, async () => {
      expect(cdnRequests).toBeGreaterThan(8);
      const setup = await copyLibrary(ws, `cdn-${share}`, { job: JOB });
      const nth = Math.max(1, Math.round(cdnRequests * share));
      const base = ws.fake.requests.length;
      const first = await runEngineChild(
        { configFile: setup.configFile, out: path.join(ws.root, `cdn-${share}-result.json`) },
        { fake: ws.fake, killWhen: () => ws.fake.requests.slice(base).filter(isCdn).length >= nth },
      );
      expect(first.signal, 'the kill landed before the run ended').toBe('SIGKILL');
      const afterKill = await expectWhole(setup);

      const { records, report } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
      // The sample library's broken model files fail hashing in every run; nothing else fails.
      expect(report.errors.filter((error) => error.stage !== 'hash' && error.stage !== 'discover')).toEqual([]);
      expect(report.images.failed).toBe(failedPreviews);
      const saved = records.flatMap((record) => record.images);
      expect(saved.length).toBeGreaterThan(0);
      for (const image of saved) {
        expect(isTempFile(path.basename(image.path))).toBe(false);
        const bytes = await readFile(image.path);
        expect(isCompleteMedia(bytes, sniffMediaType(bytes)?.ext ?? ''), image.path).toBe(true);
      }
      await expectWhole(setup);
      figures('preview-writes-crash', `at ${share}`, { killAtCdnRequest: nth, of: cdnRequests, mediaAfterKill: afterKill.media, tmpLeftovers: afterKill.temp, previewsAfterRerun: saved.length });
    });
  }
});
