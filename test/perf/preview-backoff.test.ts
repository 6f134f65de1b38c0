/**
 * A model whose previews failed is tried once more by the next run; failing again, it backs
 * off: later runs neither look it up, nor retry the download, nor rewrite its sidecar (no
 * `checkedAt` churn) until its retry is due; then it is completed and the back-off forgotten.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { STATE_FILE_NAME } from '../../src/integration/engine/state/index.ts';
import { createWorkspace, setupLibrary, TEST_API_KEY, type Setup, type Workspace } from '../support/library.ts';

let workspace: Workspace;
let lib: Setup;
beforeAll(async () => {
  workspace = await createWorkspace('cs-backoff-');
  lib = await setupLibrary(workspace, 'lib', {
    job: { output: { images: { max_count: 1, width: 96 } } },
    extra: { api: { base_url: workspace.fake.apiBaseUrl, key: TEST_API_KEY, max_retries: 0, batch: { retry_delay: 0 } } },
  });
});
afterAll(async () => {
  await workspace?.close();
});

const run = () => runScanJob({ config: lib.config, job: lib.job, jobName: lib.name });
const own = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { civitscraper: { incomplete?: boolean; checkedAt?: string } }).civitscraper;

describe('failed previews', () => {
  it('back off: no lookup, no download, no rewrite until due; then completed', async () => {
    workspace.fake.setFaults({ rate500: 1, paths: '/cdn/' });
    const first = await run();
    const failed = first.records.filter((record) => record.sidecarPath && record.problems.some((problem) => problem.stage === 'images'));
    expect(failed.length).toBeGreaterThan(0);
    const sidecar = failed[0]?.sidecarPath as string;
    expect((await own(sidecar)).incomplete).toBe(true);

    // The next run tries once more (an outage may be over); it fails again.
    const retried = await run();
    expect(retried.records.find((record) => record.sidecarPath === sidecar)?.problems.some((problem) => problem.stage === 'images')).toBe(true);
    const before = { mtime: (await stat(sidecar)).mtimeMs, own: await own(sidecar) };

    // Still failing, but not due now: nothing is asked, downloaded or written.
    const requests = workspace.fake.requests.length;
    const second = await run();
    expect(workspace.fake.requests.length - requests).toBe(0);
    expect(second.report.sidecars.written).toBe(0);
    expect((await stat(sidecar)).mtimeMs).toBe(before.mtime);
    expect(await own(sidecar)).toEqual(before.own);
    expect(second.records.find((record) => record.sidecarPath === sidecar)?.civitai.checkedAt).toBe(before.own.checkedAt);

    // Due now (and the CDN is back): looked up, downloaded, written complete, back-off forgotten.
    const db = new DatabaseSync(path.join(lib.config.scanner.cache_dir, STATE_FILE_NAME));
    expect((db.prepare('SELECT COUNT(*) AS n FROM retries').get() as { n: number }).n).toBeGreaterThanOrEqual(failed.length);
    db.exec('UPDATE retries SET next_at = 0');
    workspace.fake.setFaults({});
    const third = await run();
    expect(third.report.images.downloaded).toBeGreaterThan(0);
    expect((await own(sidecar)).incomplete).toBeUndefined();
    expect((db.prepare('SELECT COUNT(*) AS n FROM retries').get() as { n: number }).n).toBe(0);
    db.close();
  });
});
