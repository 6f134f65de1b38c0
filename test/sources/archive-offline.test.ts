/**
 * Sources in order, the offline archive, --offline / --no-remote, against the fake CivitAI and
 * the fake CivArchive on 127.0.0.1 (no internet). The archive SQLite is built at test time from
 * the recorded bodies the fake CivitAI serves.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCivarchive, type ArchiveEntry, type FakeCivarchive } from '../../src/dev/fake-civarchive.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import { createWorkspace, readableEntries, setupLibrary, type Workspace } from '../support/library.ts';
import { archiveFixture, identifiedEntries, recordedEntries } from './helpers.ts';

let workspace: Workspace;
let entries: ArchiveEntry[];
let archive: string;
let civarchive: FakeCivarchive;
beforeAll(async () => {
  workspace = await createWorkspace('cs-sources-');
  entries = await recordedEntries(workspace);
  archive = await archiveFixture(workspace, entries);
  civarchive = await startFakeCivarchive(entries);
});
afterAll(async () => {
  await civarchive.close();
  await workspace.close();
});

const hasModel = (id: number | undefined) => entries.some((entry) => entry.model && entry.model.id === id);

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (message: string) => lines.push(message);
  return { lines, logger: { debug: push, info: push, warn: push, error: push } as Logger };
}

const byPath = <T extends { file: { relativePath: string } }>(records: T[], relativePath: string): T | undefined =>
  records.find((record) => record.file.relativePath === relativePath.split('/').slice(1).join('/'));

describe('sources in order', () => {
  it('CivitAI first: every record says civitai answered; the archive is not needed', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'civitai-first', { extra: { sources: { archive_db: archive } } });
    const { records } = await runScanJob({ config, job, jobName: name });
    for (const entry of identifiedEntries(workspace)) {
      const record = byPath(records, entry.relativePath);
      expect(record?.civitai.status, entry.relativePath).toBe('identified');
      expect(record?.civitai.source).toBe('civitai');
      expect(record?.air).toMatch(/^urn:air:[a-z0-9]+:[a-z]+:civitai:\d+@\d+$/);
    }
  });

  it('CivitAI failing (5xx on every call): the archive answers for every file it has, none is "not found" by mistake', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'civitai-down', {
      extra: { sources: { archive_db: archive }, api: { base_url: workspace.fake.apiBaseUrl, key: 'k', max_retries: 0, batch: { retry_delay: 1 } } },
    });
    workspace.fake.setFaults({ rate500: 1, paths: '/api/v1/' });
    try {
      const started = Date.now();
      const { records, report } = await runScanJob({ config, job, jobName: name });
      expect(Date.now() - started).toBeLessThan(20_000);
      for (const entry of identifiedEntries(workspace)) {
        const record = byPath(records, entry.relativePath);
        expect(record?.civitai.status, entry.relativePath).toBe('identified');
        expect(record?.civitai.source).toBe('archive_db');
        expect(record?.version?.id).toBe(entry.binding?.versionId);
        // The parent model comes from the archive too, in the API's shape (where the archive has it).
        if (hasModel(entry.binding?.modelId)) expect(record?.model?.id).toBe(entry.binding?.modelId);
      }
      // A file the archive lacks and CivitAI could not answer for is unknown, never not-found.
      for (const entry of readableEntries(workspace.library).filter((e) => e.kind === 'unknown')) {
        expect(byPath(records, entry.relativePath)?.civitai.status, entry.relativePath).toBe('unknown');
      }
      expect(report.api.notFound).toBe(0);
    } finally {
      workspace.fake.setFaults({});
    }
  });

  it('sources.civitai.enabled: false sends CivitAI nothing, not even for the parent model of an archive answer that lacks one', async () => {
    // An archive of versions without their models: each parent would otherwise be asked of CivitAI.
    const bare = await archiveFixture(workspace, entries.map(({ model: _model, ...entry }) => entry), 'versions-only.sqlite');
    const sources = { order: ['archive_db', 'civitai'], archive_db: bare, civitai: { enabled: false } };
    const lib = await setupLibrary(workspace, 'civitai-off', { extra: { sources } });
    workspace.fake.requests.length = 0;
    const { records, report } = await runScanJob({ config: lib.config, job: lib.job, jobName: lib.name });
    for (const entry of identifiedEntries(workspace)) {
      const record = byPath(records, entry.relativePath);
      expect(record?.civitai.source, entry.relativePath).toBe('archive_db');
      expect(record?.model).toBeUndefined();
    }
    expect(workspace.fake.requests.filter((request) => request.path.startsWith('/api/v1/')).map((request) => `${request.method} ${request.path}`)).toEqual([]);
    // The sample library's broken files fail as always; nothing else does.
    expect(report.errors.filter((entry) => entry.stage !== 'discover' && entry.stage !== 'hash')).toEqual([]);
  });

  it('a user order [civarchive, civitai] asks CivArchive first; CivArchive failing falls through to CivitAI', async () => {
    const sources = { order: ['civarchive', 'civitai'], civarchive: { base_url: civarchive.baseUrl } };
    const first = await setupLibrary(workspace, 'civarchive-first', { extra: { sources } });
    civarchive.requests.length = 0;
    const { records } = await runScanJob({ config: first.config, job: first.job, jobName: first.name });
    for (const entry of identifiedEntries(workspace)) {
      const record = byPath(records, entry.relativePath);
      expect(record?.civitai.source, entry.relativePath).toBe('civarchive');
      expect(record?.version?.id).toBe(entry.binding?.versionId);
      if (hasModel(entry.binding?.modelId)) expect(record?.model?.name).toBeTruthy();
    }
    expect(civarchive.requests.length).toBeGreaterThan(0);

    civarchive.setFault('500');
    try {
      const second = await setupLibrary(workspace, 'civarchive-down', { extra: { sources } });
      const again = await runScanJob({ config: second.config, job: second.job, jobName: second.name });
      for (const entry of identifiedEntries(workspace)) {
        expect(byPath(again.records, entry.relativePath)?.civitai.source, entry.relativePath).toBe('civitai');
      }
      // Unknown to CivitAI, CivArchive failed: not "not found".
      for (const entry of readableEntries(workspace.library).filter((e) => e.kind === 'unknown')) {
        const record = byPath(again.records, entry.relativePath);
        expect(record?.civitai.status, entry.relativePath).toBe('unknown');
        expect(record?.civitai.error).toMatch(/civarchive/);
      }
    } finally {
      civarchive.setFault('none');
    }
  });

  it('a switched-off source is not asked', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'switched-off', {
      extra: { sources: { order: ['civarchive', 'civitai'], civarchive: { base_url: civarchive.baseUrl, enabled: false } } },
    });
    civarchive.requests.length = 0;
    const { records } = await runScanJob({ config, job, jobName: name });
    expect(civarchive.requests).toHaveLength(0);
    expect(records.filter((record) => record.civitai.status === 'identified').every((record) => record.civitai.source === 'civitai')).toBe(true);
  });
});

describe('offline archive', () => {
  it('--offline: not one request; every file in the archive identified; the run says it ran from the archive', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'offline', { extra: { sources: { archive_db: archive } } });
    workspace.fake.requests.length = 0;
    civarchive.requests.length = 0;
    const { logger, lines } = capture();
    const { records, report } = await runScanJob({ config, job, jobName: name, network: 'offline', logger });
    expect(workspace.fake.requests).toHaveLength(0);
    expect(report.api.requests).toBe(0);
    for (const entry of identifiedEntries(workspace)) {
      const record = byPath(records, entry.relativePath);
      expect(record?.civitai.status, entry.relativePath).toBe('identified');
      expect(record?.civitai.source).toBe('archive_db');
    }
    for (const entry of readableEntries(workspace.library).filter((e) => e.kind === 'unknown')) {
      expect(byPath(records, entry.relativePath)?.civitai.status).toBe('not-found');
    }
    expect(lines.some((line) => /ran from the archive/.test(line))).toBe(true);
    // Sidecars say where the data came from.
    const lora = records.find((record) => record.version?.id === 1967584);
    const sidecar = JSON.parse(await readFile(path.join(path.dirname(lora?.file.path ?? ''), `${lora?.file.stem}.json`), 'utf8'));
    expect(sidecar.civitscraper.source).toBe('archive_db');
    expect(sidecar.id).toBe(1967584);
  });

  it('--no-remote: no hash is sent anywhere (no by-hash call), the archive identifies', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'no-remote', {
      extra: { sources: { archive_db: archive, order: ['civitai', 'civarchive', 'archive_db'], civarchive: { base_url: civarchive.baseUrl } } },
    });
    workspace.fake.requests.length = 0;
    civarchive.requests.length = 0;
    const { records } = await runScanJob({ config, job, jobName: name, network: 'no-remote' });
    expect(workspace.fake.requests.filter((request) => request.path.includes('by-hash'))).toHaveLength(0);
    expect(civarchive.requests).toHaveLength(0);
    for (const entry of identifiedEntries(workspace)) {
      expect(byPath(records, entry.relativePath)?.civitai.source, entry.relativePath).toBe('archive_db');
    }
  });

  it('--offline without an archive: new files are "not checked" (not failures), no request', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'offline-bare');
    workspace.fake.requests.length = 0;
    const { records, report } = await runScanJob({ config, job, jobName: name, network: 'offline' });
    expect(workspace.fake.requests).toHaveLength(0);
    expect(records.every((record) => record.civitai.status === 'not-checked')).toBe(true);
    expect(report.errors.filter((error) => error.stage === 'identify')).toHaveLength(0);
  });

  it('API unreachable (nothing listens) with the archive: identified, nothing hangs', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'unreachable', {
      extra: { sources: { archive_db: archive }, api: { base_url: 'http://127.0.0.1:9/api/v1', max_retries: 0, timeout: 2, batch: { retry_delay: 1 } } },
    });
    const started = Date.now();
    const { records } = await runScanJob({ config, job, jobName: name });
    expect(Date.now() - started).toBeLessThan(30_000);
    for (const entry of identifiedEntries(workspace)) {
      expect(byPath(records, entry.relativePath)?.civitai.source, entry.relativePath).toBe('archive_db');
    }
  });
});
