/**
 * SIGTERM while previews are downloading from a server that drips one byte every 200 ms (and
 * an api.timeout long enough never to save the run): the grace period after the first signal, or
 * a second signal, cancels the requests in flight; the run still ends with its report written
 * and exit 130, and the connections to the server are closed rather than drained.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../src/dev/fake-civitai/index.ts';
import { API_KEY, createCliWorkspace, libraryCopy, readJson, startCli, writeConfig, type CliWorkspace } from './helpers.ts';

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await createCliWorkspace('cs-cli-int-req-');
});
afterAll(async () => {
  ws.fake.setFaults({});
  await ws.close();
});
beforeEach(() => {
  ws.fake.setFaults({ bodyFault: 'drip', dripIntervalMs: 200, paths: '/cdn/' });
});

/** A library whose previews come from the dripping CDN; api.timeout 10 minutes. */
async function drippingLibrary(name: string) {
  const copy = await libraryCopy(ws, name);
  await writeConfig(copy.file, {
    api: { base_url: ws.fake.apiBaseUrl, key: API_KEY, timeout: 600, max_retries: 1, batch: { retry_delay: 1 } },
    input_paths: copy.paths,
    scanner: { cache_dir: path.join(copy.dir, '.cache') },
    logging: { console: { simple: true } },
    output: { images: { max_count: 2, width: 96 } },
  });
  return copy;
}

/** Waits (bounded) until the fake has received a preview request: downloads are in flight. */
async function previewsInFlight(from: number): Promise<RecordedRequest[]> {
  for (let attempt = 0; attempt < 1200; attempt += 1) {
    const cdn = ws.fake.requests.slice(from).filter((request) => request.path.startsWith('/cdn/'));
    if (cdn.length > 0) return cdn;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no preview was ever requested');
}

/** A hung child would hang the suite: killed after a minute (a safety net, not an assertion). */
function guard(child: { kill(signal: NodeJS.Signals): boolean }): () => void {
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return () => clearTimeout(timer);
}

describe('SIGTERM with requests that never finish', () => {
  it('after the grace period the requests in flight are cancelled: report written, exit 130', { timeout: 90_000 }, async () => {
    const copy = await drippingLibrary('grace');
    const report = path.join(copy.dir, 'report.json');
    const from = ws.fake.requests.length;
    const run = startCli(ws, ['-c', copy.file, '--report', report], { CIVITSCRAPER_INTERRUPT_GRACE: '0.5' });
    const release = guard(run.child);
    await previewsInFlight(from);
    run.child.kill('SIGTERM');
    const result = await run.exited;
    release();

    expect(result.code, result.stderr.slice(-2000)).toBe(130);
    expect(result.stderr).toMatch(/SIGTERM: stopping after the files in flight/);
    expect(result.stderr).toMatch(/still running: cancelling the requests in flight/);
    expect(result.stderr).toMatch(/interrupted: what finished is saved/);
    expect(existsSync(report)).toBe(true);
    const json = await readJson(report);
    expect(json.exitCode).toBe(130);
    expect(json.interrupted).toBe(true);
    // Identification finished before the signal: a cancelled download is never "not found".
    expect(json.api.identified).toBeGreaterThan(0);
    expect(json.images.downloaded).toBe(0);
    // The dripping downloads were cut off, not waited for.
    const cdn = ws.fake.requests.slice(from).filter((request) => request.path.startsWith('/cdn/'));
    expect(cdn.length).toBeGreaterThan(0);
    for (const request of cdn) expect(request.clientClosedEarly, request.path).toBe(true);
  });

  it('a second SIGTERM cancels them at once (whatever the grace period): report written, exit 130', { timeout: 90_000 }, async () => {
    const copy = await drippingLibrary('twice');
    const report = path.join(copy.dir, 'report.json');
    const from = ws.fake.requests.length;
    const run = startCli(ws, ['-c', copy.file, '--report', report], { CIVITSCRAPER_INTERRUPT_GRACE: '600' });
    const release = guard(run.child);
    await previewsInFlight(from);
    run.child.kill('SIGTERM');
    expect(await run.waitFor(/SIGTERM: stopping after the files in flight/)).toBeDefined();
    run.child.kill('SIGTERM');
    const result = await run.exited;
    release();

    expect(result.code, result.stderr.slice(-2000)).toBe(130);
    expect(result.stderr).toMatch(/interrupted again: cancelling the requests in flight/);
    expect(existsSync(report)).toBe(true);
    const json = await readJson(report);
    expect(json.exitCode).toBe(130);
    expect(json.interrupted).toBe(true);
    expect(json.images.downloaded).toBe(0);
  });
});
