/**
 * Requests per source in the run report and the run's summary line: CivArchive, civitai.red,
 * CivitAI (hand-linked versions included) and the offline archive's lookups, each counted as
 * the fake servers saw them, with one run that asks all four.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCivarchive, type FakeCivarchive } from '../../src/dev/fake-civarchive.ts';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { linksPath, writeLinks } from '../../src/integration/engine/sources/links.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import { createWorkspace, readableEntries, setupLibrary, type Workspace } from '../support/library.ts';
import { archiveFixture, recordedEntries } from './helpers.ts';

let workspace: Workspace;
let red: FakeCivitai;
let civarchive: FakeCivarchive;
let archive: string;
beforeAll(async () => {
  workspace = await createWorkspace('cs-counts-');
  const entries = await recordedEntries(workspace);
  archive = await archiveFixture(workspace, entries);
  // CivArchive knows two of the files; civitai.red (a fake without the library) none.
  civarchive = await startFakeCivarchive(entries.slice(0, 2));
  red = await startFakeCivitai();
});
afterAll(async () => {
  await civarchive.close();
  await red.close();
  await workspace.close();
  await rm(workspace.root, { recursive: true, force: true });
});

describe('requests per source', () => {
  it('the report and the summary count every source`s requests as the servers saw them, and the archive`s lookups', async () => {
    const { config, job, name, dir } = await setupLibrary(workspace, 'counts', {
      extra: {
        sources: {
          order: ['civarchive', 'civitai_red', 'civitai', 'archive_db'],
          civarchive: { base_url: civarchive.baseUrl },
          civitai_red: { base_url: red.apiBaseUrl },
          archive_db: archive,
        },
      },
    });
    // One unknown file linked by hand: asked by id (CivitAI) and looked up in the archive.
    const unknown = readableEntries(workspace.library).filter((entry) => entry.kind === 'unknown');
    const linked = unknown[0]!;
    await writeLinks({
      file: linksPath(config.scanner.cache_dir),
      links: { [String(linked.sha256).toUpperCase()]: { versionId: 1387174, ref: '1387174', path: path.join(dir, linked.relativePath), linkedAt: new Date().toISOString() } },
    });
    workspace.fake.requests.length = 0;
    civarchive.requests.length = 0;
    red.requests.length = 0;
    const lines: string[] = [];
    const push = (message: string) => lines.push(message);
    const logger: Logger = { debug: push, info: push, warn: push, error: push };

    const { report, records } = await runScanJob({ config, job, jobName: name, logger });
    expect(records.find((record) => record.file.path === path.join(dir, linked.relativePath))?.civitai.linked).toBe(true);

    const civitaiRequests = workspace.fake.requests.filter((request) => request.path.startsWith('/api/v1/')).length;
    const redRequests = red.requests.filter((request) => request.path.startsWith('/api/v1/')).length;
    expect(civarchive.requests.length).toBeGreaterThan(0);
    expect(redRequests).toBeGreaterThan(0);
    expect(report.sources).toEqual({
      civitai: { requests: civitaiRequests, retries: 0 },
      civitai_red: { requests: redRequests, retries: 0 },
      civarchive: { requests: civarchive.requests.length, retries: 0 },
      // The unknown files but the linked one asked by hash, and the linked version asked by id.
      archive_db: { lookups: unknown.length },
    });
    expect(report.api.requests).toBe(civitaiRequests + redRequests + civarchive.requests.length);
    const done = lines.find((line) => line.startsWith('done:'));
    expect(done).toBe(
      `done: ${records.length} records, ${report.api.requests} API requests (CivitAI ${civitaiRequests}, civitai.red ${redRequests}, CivArchive ${civarchive.requests.length}), ${unknown.length} archive lookups, ${report.images.downloaded} previews downloaded, ${report.files.failed} files failed`,
    );
  });
});
