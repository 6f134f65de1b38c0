/**
 * `civitscraper updates` end to end, against the fake CivitAI with versions added to the
 * Semi-realistic illustrious LoRA (both of its recorded versions are in the sample library):
 * a newer release, one for another base model, an fp8 variant, one in early access, a paid
 * one, an on-site-only one, and one older than the newest local file. The table and --json,
 * the 24 h cache, --offline with the answers' age, --ignore/--unignore, a failed check that
 * keeps the known update, and the gallery's badge from the same rules. Spawns the compiled CLI
 * (`npm run compile` first).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCivitai, type ExtraVersion, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, type SampleLibrary } from '../../src/dev/sample-library/index.ts';
import { createOfflineClient } from '../../src/integration/engine/civitai/client.ts';
import { loadConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { readUpdateState } from '../../src/integration/engine/updates/state.ts';
import { hasNewerVersion, libraryContext } from '../../src/integration/site/view.ts';
import { BIN, childEnv, libraryCopy, type CliResult, type CliWorkspace } from '../cli/helpers.ts';

const MODEL = 1580878;
const LIKE = 1967584;
const same = (id: number, name: string, publishedAt: string, extra: Record<string, unknown> = {}): ExtraVersion => ({
  modelId: MODEL,
  like: LIKE,
  version: { id, name, publishedAt, createdAt: publishedAt, ...extra },
});
const EXTRA: ExtraVersion[] = [
  same(9100001, 'v2.0', '2025-09-01T10:00:00.000Z'),
  same(9100002, 'v2.0 Pony', '2025-09-02T10:00:00.000Z', { baseModel: 'Pony' }),
  same(9100003, 'v2.0 fp8', '2025-09-03T10:00:00.000Z', {
    files: [{ id: 91000031, name: 'semi_fp8.safetensors', type: 'Model', primary: true, sizeKB: 111_000, metadata: { format: 'SafeTensor', fp: 'fp8' } }],
  }),
  same(9100004, 'v2.1', '2025-09-04T10:00:00.000Z', { availability: 'EarlyAccess', earlyAccessEndsAt: '2099-01-01T00:00:00.000Z' }),
  same(9100005, 'v2.2', '2025-09-05T10:00:00.000Z', { paidAccess: { buzz: 500 } }),
  same(9100006, 'v2.3', '2025-09-06T10:00:00.000Z', { usageControl: 'Generation' }),
  same(9100007, 'v1.2', '2025-06-01T10:00:00.000Z'),
];

let root: string;
let library: SampleLibrary;
let fake: FakeCivitai;
let workspace: CliWorkspace;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cs-updates-cli-'));
  library = await generateSampleLibrary(path.join(root, 'pristine'));
  fake = await startFakeCivitai({ library, extraVersions: EXTRA });
  workspace = { root, library, fake, close: async () => undefined };
});
afterAll(async () => {
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});

function run(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: childEnv(workspace), cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

type Entry = { modelId: number; family: string; local: { versionId: number; paths: string[] }; newer: { versionId: number; flags: string[]; counted: boolean }[]; answer: { from: string; error?: string } };
const lora = (json: { entries: Entry[] }) => json.entries.find((entry) => entry.modelId === MODEL);
const newer = (entry: Entry | undefined) => entry?.newer.map((item) => [item.versionId, item.flags]);

describe('civitscraper updates', () => {
  it('lists the family`s newer versions (flagged ones not counted), from one /models?ids= request, cached for a day; --ignore, --offline, a failed check; the gallery agrees', async () => {
    const copy = await libraryCopy(workspace, 'lib', { inputs: ['loras'] });
    const scan = await run(['-c', copy.file, '--no-site', '--unreadable', 'warn']);
    expect(scan.code, scan.stderr).toBe(0);

    // The scan cached the parents a moment ago: --force-refresh asks anyway.
    fake.requests.length = 0;
    const first = await run(['updates', '-c', copy.file, '--json', '--force-refresh']);
    expect(first.code, first.stderr).toBe(0);
    const json = JSON.parse(first.stdout);
    expect(json.command).toBe('updates');
    const entry = lora(json);
    // v1.5 is the newest local one; Pony, fp8 and the older v1.2 are not listed.
    expect(entry?.local.versionId).toBe(1967584);
    expect(entry?.local.paths.map((file) => path.basename(file)).sort()).toEqual(['Semi-realistic illustrious v1.5.safetensors', 'semi_realistic V1 (old).safetensors']);
    expect(entry?.family).toBe('Illustrious');
    expect(newer(entry)).toEqual([
      [9100006, ['on-site-only']],
      [9100005, ['paid']],
      [9100004, ['early-access']],
      [9100001, []],
    ]);
    expect(entry?.newer.find((item) => item.versionId === 9100001)).toMatchObject({ counted: true, url: expect.stringContaining(`/models/${MODEL}?modelVersionId=9100001`) });
    expect(json.counted).toBeGreaterThanOrEqual(1);
    const parents = fake.requests.filter((request) => request.path.startsWith('/api/v1/models'));
    // One page for every model; a model the page leaves out (1137571: deleted) asked on its own.
    expect(parents.map((request) => request.path)).toEqual(['/api/v1/models', '/api/v1/models/1137571']);
    expect(parents[0]?.query.ids?.split(',')).toContain(String(MODEL));
    expect(json.requests).toBe(parents.length);
    expect(entry?.answer.from).toBe('network');

    // The table, for people; answers under a day old are not asked again.
    fake.requests.length = 0;
    const table = await run(['updates', '-c', copy.file]);
    expect(table.code, table.stderr).toBe(0);
    expect(fake.requests.filter((request) => request.path.startsWith('/api/v1/'))).toHaveLength(0);
    expect(table.stdout).toMatch(/Model\s+Local version\s+Newer version\s+Base model\s+Published\s+Flags/);
    expect(table.stdout).toMatch(/Semi-realistic illustrious \(1580878\)\s+v1\.5\s+v2\.3 \(9100006\)\s+Illustrious\s+2025-09-06\s+on-site only/);
    expect(table.stdout).toMatch(/v2\.1 \(9100004\)\s+Illustrious\s+2025-09-04\s+early access until 2099-01-01/);
    expect(table.stdout).toMatch(/v2\.0 \(9100001\)\s+Illustrious\s+2025-09-01\s+-/);
    expect(table.stdout).not.toMatch(/Pony|fp8|9100007/);
    expect(table.stderr).toMatch(/from answers under a day old/);

    // The gallery (records of a scan) shows the badge from the same rules.
    const gallery = async () => {
      const { config } = await loadConfig({ configPath: copy.file });
      const [selected] = selectJobs(config, {});
      const { records } = await runScanJob({
        config,
        jobName: selected?.name ?? 'default',
        job: { ...(selected?.job as ScanJob), use_cached_metadata: true },
        dryRun: true,
        client: createOfflineClient('test: records from sidecars'),
      });
      const mine = records.filter((record) => record.version?.modelId === MODEL);
      return { mine, badges: mine.map((record) => hasNewerVersion(record, libraryContext(records), { domains: config.api.domains, nsfwThreshold: 4 })) };
    };
    const before = await gallery();
    expect(before.badges).toEqual([true, true]);
    expect(before.mine[0]?.updates?.map((item) => item.versionId)).toEqual([9100006, 9100005, 9100004, 9100001]);

    // --ignore (by URL): kept in updates.json; the table leaves it out, the gallery drops the badge.
    const ignore = await run(['updates', '-c', copy.file, '--ignore', `https://civitai.com/models/${MODEL}?modelVersionId=9100001`]);
    expect(ignore.code, ignore.stderr).toBe(0);
    expect((await readUpdateState(path.join(copy.dir, '.cache'))).ignore).toEqual([9100001]);
    expect((await run(['updates', '-c', copy.file, '--ignore', 'not-a-version'])).code).toBe(2);
    fake.requests.length = 0;
    const offline = await run(['updates', '-c', copy.file, '--json', '--offline']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(fake.requests).toHaveLength(0);
    const offlineJson = JSON.parse(offline.stdout);
    expect(newer(lora(offlineJson))?.at(-1)).toEqual([9100001, ['ignored']]);
    expect(lora(offlineJson)?.answer.from).toBe('snapshot');
    expect(offlineJson.counted).toBe(0);
    expect(offline.stderr).toMatch(/--offline: nothing was sent.*from the last check; the oldest answer is \d+ min old/);
    expect((await gallery()).badges).toEqual([false, false]);

    // CivitAI failing: the check keeps what it knew, and says so.
    await run(['updates', '-c', copy.file, '--unignore', '9100001']);
    fake.setFaults({ rate500: 1, paths: '/api/v1/models' });
    try {
      const failing = await run(['updates', '-c', copy.file, '--json', '--force-refresh']);
      expect(failing.code, failing.stderr).toBe(0);
      const failed = lora(JSON.parse(failing.stdout));
      expect(failed?.answer).toMatchObject({ from: 'snapshot', error: expect.stringMatching(/500/) });
      expect(newer(failed)?.at(-1)).toEqual([9100001, []]);
      expect(failing.stderr).toMatch(/could not be asked \(what was known is kept\)/);
    } finally {
      fake.setFaults({});
    }
  });

  it('--help names the command; its flags belong to it', async () => {
    const help = await run(['updates', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: civitscraper updates/);
    expect((await run(['--help'])).stdout).toMatch(/updates \[--ignore VERSION\]/);
    const misplaced = await run(['scan', '--ignore', '5']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/--ignore belongs to `civitscraper updates`/);
  });
});
