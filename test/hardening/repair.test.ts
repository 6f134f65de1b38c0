/**
 * Repair suite: what a normal run (no --force-refresh) does about files that should be there
 * and are not.
 *   1. A missing or empty (0-byte) file we own (`.civitai.info`, the WebUI `.preview.<ext>`, a
 *      downloaded preview, our metadata sidecar, an A1111 key we wrote) is written again, and
 *      the run says how many it repaired.
 *   2. Temp files of an interrupted atomic write (`.<name>.<12 hex>.tmp`, `.<name>.<pid>.tmp`)
 *      are swept from the folders of the job's models, only when ours by name and stale.
 *   3. A sidecar or preview that cannot be written is a failure: in `errors[]` and
 *      `files.failed`, on the console with the path and what to do, exit code 1. Root ignores
 *      file modes, so the read-only folder case runs the CLI without CAP_DAC_OVERRIDE (setpriv);
 *      the in-process case puts a folder where a file must go (EISDIR), which stops root too.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { parseTempName, writeFailureCode, writeFailureHint } from '../../src/integration/engine/util/atomic-write.ts';
import { BIN, childEnv, createCliWorkspace, libraryCopy, readJson, type CliResult, type CliWorkspace } from '../cli/helpers.ts';
import { canDropDacCaps, contentOf, figures, readTree } from './helpers.ts';

let ws: CliWorkspace;
beforeAll(async () => {
  ws = await createCliWorkspace('cs-repair-');
});
afterAll(async () => {
  await ws?.close();
});

const A = 'Lora/Semi-realistic illustrious v1.5';
const B = "Lora/SD15/VSK-94 'Girls' Frontline'";
const C = 'Checkpoint/SD1.5/synthwavepunk_v3Alpha';
const D = 'Embeddings/negative/verybadimagenegative_v1.3';
const E = 'Lora/Flux/Vivid Impressions Storybook';

interface Lines {
  lines: string[];
  logger: { debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void };
}
function captureLog(): Lines {
  const lines: string[] = [];
  const push = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { lines, logger: { debug: () => {}, info: push('info'), warn: push('warn'), error: push('error') } };
}

async function library(name: string, extra: Record<string, unknown> = {}) {
  const copy = await libraryCopy(ws, name, { extra });
  const { config } = parseConfig(await readFile(copy.file, 'utf8'), copy.file);
  const [selected] = selectJobs(config, {});
  const run = async (options: { dryRun?: boolean } = {}) => {
    const log = captureLog();
    const result = await runScanJob({ config, job: selected?.job as ScanJob, jobName: selected?.name ?? 'default', logger: log.logger, ...options });
    return { ...result, lines: log.lines };
  };
  return { ...copy, run, at: (relative: string) => path.join(copy.dir, relative) };
}

/** Every file a run wrote (not models, config, cache), by relative path, as bytes. */
async function writtenFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [relative, bytes] of await readTree(dir)) {
    if (/\.(safetensors|pt|ckpt|yaml)$/i.test(relative) || relative.endsWith('.sample-library.json')) continue;
    out.set(relative, bytes);
  }
  return out;
}

describe('a missing or empty file is repaired by the next normal run', () => {
  it('rewrites a deleted .civitai.info, empty and missing WebUI previews, an empty preview image, an empty metadata sidecar and an emptied A1111 key', async () => {
    const lib = await library('repair');
    const first = await lib.run();
    expect(first.report.sidecars.written).toBeGreaterThan(0);
    const good = await writtenFiles(lib.dir);

    // The damage: each kind once.
    await rm(lib.at(`${A}.civitai.info`));
    // A new empty file in place of the WebUI preview (its hard-linked preview1 stays intact).
    await rm(lib.at(`${B}.preview.jpeg`));
    await writeFile(lib.at(`${B}.preview.jpeg`), '');
    await rm(lib.at(`${E}.preview.png`));
    // A downloaded preview truncated in place, and an A1111 key we wrote emptied in the WebUI.
    await truncate(lib.at(`${C}.preview2.jpeg`), 0);
    const cSidecar = JSON.parse(await readFile(lib.at(`${C}.json`), 'utf8'));
    expect(cSidecar.civitscraper.a1111['sd version']).toBe('SD1');
    cSidecar['sd version'] = '';
    await writeFile(lib.at(`${C}.json`), JSON.stringify(cSidecar, null, 2));
    // Our own metadata sidecar emptied (a copy tool that died half way, a full disk).
    await truncate(lib.at(`${D}.json`), 0);

    const second = await lib.run();
    const after = await writtenFiles(lib.dir);
    const differences: string[] = [];
    // D's sidecar was looked up again: new fetch times, and hashes from the ledger (which may
    // know more hash types than the first read recorded); the same SHA-256.
    const withoutHashes = (relative: string, bytes: Buffer) => {
      if (relative !== `${D}.json`) return contentOf(relative, bytes);
      const document = JSON.parse(bytes.toString('utf8'));
      expect(document.civitscraper.hashes.SHA256).toBe(JSON.parse((good.get(relative) as Buffer).toString('utf8')).civitscraper.hashes.SHA256);
      delete document.civitscraper.hashes;
      return contentOf(relative, Buffer.from(JSON.stringify(document)));
    };
    for (const [relative, bytes] of good) {
      const now = after.get(relative);
      if (!now) differences.push(`missing ${relative}`);
      else if (!now.equals(bytes) && withoutHashes(relative, now) !== withoutHashes(relative, bytes)) differences.push(`differs ${relative}`);
    }
    for (const relative of after.keys()) if (!good.has(relative)) differences.push(`extra ${relative}`);
    expect(differences).toEqual([]);
    // Byte-identical where nothing was looked up again (only D's sidecar has a new checkedAt).
    for (const file of [`${A}.civitai.info`, `${B}.preview.jpeg`, `${E}.preview.png`, `${C}.preview2.jpeg`, `${C}.json`]) {
      expect(after.get(file)?.equals(good.get(file) as Buffer), file).toBe(true);
    }
    // The WebUI previews are the downloaded first previews again (hard links where possible).
    expect((await stat(lib.at(`${B}.preview.jpeg`))).ino).toBe((await stat(lib.at(`${B}.preview1.jpeg`))).ino);

    // A, B, C (the A1111 key), D (the metadata sidecar), E: five files; C's preview image: one.
    expect(second.report.sidecars.repaired).toBe(5);
    expect(second.report.images.repaired).toBe(1);
    expect(second.report.errors.filter((entry) => entry.stage === 'sidecars' || entry.stage === 'images')).toEqual([]);
    expect(second.lines.some((line) => /^info sidecars: repaired 5 missing\/empty files \(/.test(line)), second.lines.join('\n')).toBe(true);
    expect(second.lines.some((line) => /^info images: repaired 1 missing\/empty preview/.test(line)), second.lines.join('\n')).toBe(true);
    // Only D was asked of CivitAI again (its sidecar was gone); the rest came from the sidecars.
    expect(second.report.api.identified).toBe(first.report.api.identified);

    const third = await lib.run();
    expect(third.report.sidecars.repaired).toBe(0);
    expect(third.report.images.repaired).toBe(0);
    expect(third.report.sidecars.written).toBe(0);
    expect(third.report.images.downloaded).toBe(0);
    figures('repair', 'repaired', { sidecars: second.report.sidecars.repaired, images: second.report.images.repaired, writtenInRepairRun: second.report.sidecars.written });
  });

  it('a dry run repairs nothing', async () => {
    const lib = await library('repair-dry');
    await lib.run();
    await rm(lib.at(`${A}.civitai.info`));
    const dry = await lib.run({ dryRun: true });
    expect(dry.report.sidecars.repaired).toBe(0);
    await expect(stat(lib.at(`${A}.civitai.info`))).rejects.toThrow();
  });
});

describe('temp files of an interrupted write are swept', () => {
  it('removes only our stale temp files in the folders of the job, keeps fresh ones, live ones and other names', async () => {
    const lib = await library('sweep');
    await lib.run();
    const stem = path.basename(A);
    const hour = new Date(Date.now() - 60 * 60_000);
    // A process that has exited: its pid names a temp nobody holds any more.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const files: Record<string, { name: string; old: boolean; swept: boolean }> = {
      staleInfo: { name: `Lora/.${stem}.civitai.info.0123456789ab.tmp`, old: true, swept: true },
      stalePreview: { name: `Lora/.${stem}.preview1.jpeg.a1b2c3d4e5f6.tmp`, old: true, swept: true },
      staleLinkOfDeadRun: { name: `Lora/.${stem}.preview.jpeg.${deadPid}.tmp`, old: true, swept: true },
      staleElsewhere: { name: `${C}.json.ffffffffffff.tmp`.replace(/([^/]+)$/, '.$1'), old: true, swept: true },
      // A parallel run may be writing this one right now.
      fresh: { name: `Lora/.${stem}.json.abcdefabcdef.tmp`, old: false, swept: false },
      // Hard links keep the source's old mtime: a live process's one is never touched.
      liveLink: { name: `Lora/.${stem}.preview.jpeg.${process.pid}.tmp`, old: true, swept: false },
      notOurPattern: { name: `Lora/.${stem}.json.xyz.tmp`, old: true, swept: false },
      notAModelOfHere: { name: 'Lora/.somebody-else.json.0123456789ab.tmp', old: true, swept: false },
      noLeadingDot: { name: `Lora/${stem}.json.0123456789ab.tmp`, old: true, swept: false },
    };
    for (const file of Object.values(files)) {
      await writeFile(lib.at(file.name), 'half a write');
      if (file.old) await utimes(lib.at(file.name), hour, hour);
    }
    const exists = async (relative: string) => stat(lib.at(relative)).then(() => true, () => false);

    const dry = await lib.run({ dryRun: true });
    expect(dry.report.sidecars.tempFilesRemoved).toBe(0);
    for (const file of Object.values(files)) expect(await exists(file.name), file.name).toBe(true);

    const { report, lines } = await lib.run();
    for (const [what, file] of Object.entries(files)) expect(await exists(file.name), `${what}: ${file.name}`).toBe(!file.swept);
    expect(report.sidecars.tempFilesRemoved).toBe(4);
    expect(lines.some((line) => /^info sidecars: removed 4 temp files left by an interrupted run/.test(line)), lines.join('\n')).toBe(true);
    figures('repair', 'temp files', { planted: Object.keys(files).length, removed: report.sidecars.tempFilesRemoved });
  });
});

describe('a sidecar or preview that cannot be written is a failure', () => {
  it('in-process: a folder where .civitai.info or a preview must go is in errors[] and files.failed, the rest is written, and it stays a failure until fixed', async () => {
    const lib = await library('blocked');
    await mkdir(lib.at(`${A}.civitai.info`));
    await mkdir(lib.at(`${B}.preview1.jpeg`));
    const first = await lib.run();
    const errorsFor = (report: typeof first.report, relative: string) => report.errors.filter((entry) => entry.path === lib.at(`${relative}.safetensors`));
    const a = errorsFor(first.report, A);
    expect(a.map((entry) => entry.stage)).toEqual(['sidecars']);
    expect(a[0]?.message).toContain(lib.at(`${A}.civitai.info`));
    expect(a[0]?.message).toMatch(/EISDIR/);
    expect(a[0]?.message).toMatch(/move it away|in the way/);
    const b = errorsFor(first.report, B);
    expect(b.map((entry) => entry.stage)).toContain('images');
    expect(b.find((entry) => entry.stage === 'images')?.message).toContain(lib.at(B));
    expect(first.report.files.failed).toBe(new Set(first.report.errors.map((entry) => entry.path)).size);
    // A's other files are written all the same.
    expect(JSON.parse(await readFile(lib.at(`${A}.json`), 'utf8')).civitscraper).toBeDefined();
    expect((await stat(lib.at(`${A}.preview.jpeg`))).size).toBeGreaterThan(0);

    // Not fixed: the next run fails again (never a silent success).
    const second = await lib.run();
    expect(errorsFor(second.report, A).map((entry) => entry.stage)).toEqual(['sidecars']);

    // Fixed: the next run completes them.
    await rm(lib.at(`${A}.civitai.info`), { recursive: true });
    await rm(lib.at(`${B}.preview1.jpeg`), { recursive: true });
    const third = await lib.run();
    expect(errorsFor(third.report, A)).toEqual([]);
    expect(errorsFor(third.report, B)).toEqual([]);
    expect(JSON.parse(await readFile(lib.at(`${A}.civitai.info`), 'utf8')).id).toBeDefined();
    expect((await stat(lib.at(`${B}.preview1.jpeg`))).size).toBeGreaterThan(0);
    expect(third.report.sidecars.repaired).toBe(1);
  });

  const asRoot = process.getuid?.() === 0;
  const dropCaps = asRoot && canDropDacCaps();
  it.skipIf(asRoot && !dropCaps)('CLI: a read-only model folder exits 1 with the path and what to do; nothing good is degraded; fixed, it completes', async () => {
    // The embeddings alone: a library with no broken model file, so exit 0 means all went well.
    const copy = await libraryCopy(ws, 'read-only', { inputs: ['embeddings'] });
    const folder = path.join(copy.dir, path.dirname(D));
    const model = path.join(copy.dir, `${D}.pt`);
    const info = `${path.join(copy.dir, D)}.civitai.info`;
    const reportFile = path.join(ws.root, 'read-only-report.json');
    await chmod(folder, 0o555);
    try {
      const failed = await cliAsUser(['scan', '-c', copy.file, '--report', reportFile]);
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stderr).toContain(folder);
      expect(failed.stderr).toMatch(/permission denied/i);
      expect(failed.stderr).toMatch(/set output\.base_dir to a writable folder/);
      expect(failed.stderr).not.toMatch(/ 0 files failed/);
      const report = await readJson(reportFile);
      expect(report.exitCode).toBe(1);
      expect(report.files.failed).toBe(1);
      const stages = report.errors.filter((entry: { path: string }) => entry.path === model).map((entry: { stage: string }) => entry.stage);
      expect(stages).toEqual(['images', 'sidecars']);
      expect(report.warnings.filter((entry: { path: string }) => entry.path === model)).toEqual([]);
    } finally {
      await chmod(folder, 0o755);
    }
    const fixed = await cliAsUser(['scan', '-c', copy.file]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((await stat(info)).size).toBeGreaterThan(0);

    // A good library whose folder turns read-only with a file missing: the repair fails loudly,
    // and every good file stays as it was.
    await rm(info);
    const good = await writtenFiles(copy.dir);
    await chmod(folder, 0o555);
    try {
      const repairFails = await cliAsUser(['scan', '-c', copy.file]);
      expect(repairFails.code, repairFails.stderr).toBe(1);
      expect(repairFails.stderr).toContain(info);
      const after = await writtenFiles(copy.dir);
      expect([...after.keys()].sort()).toEqual([...good.keys()].sort());
      for (const [relative, bytes] of good) expect(after.get(relative)?.equals(bytes), relative).toBe(true);
    } finally {
      await chmod(folder, 0o755);
    }
    const repaired = await cliAsUser(['scan', '-c', copy.file]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stderr).toMatch(/repaired 1 missing\/empty file/);
    expect((await stat(info)).size).toBeGreaterThan(0);
  });
});

describe('what counts as our temp file and as a failed write', () => {
  it('parses only our temp names', () => {
    expect(parseTempName('.a b.json.0123456789ab.tmp')).toEqual({ target: 'a b.json' });
    expect(parseTempName('.a.preview.png.4242.tmp')).toEqual({ target: 'a.preview.png', pid: 4242 });
    for (const name of ['a.json.0123456789ab.tmp', '.a.json.0123456789AB.tmp', '.a.json.0123456789a.tmp', '.a.json.xyz.tmp', '.a.json.0.tmp', '.a.json.0123456789ab.temp', '..0123456789ab.tmp']) {
      expect(parseTempName(name), name).toBeUndefined();
    }
  });

  it('tells a write that failed from a download that failed, and says what to do', () => {
    const error = (code: string) => Object.assign(new Error(`${code}: boom, open '/x/.y.tmp'`), { code });
    expect(writeFailureCode(error('ENOSPC'))).toBe('ENOSPC');
    expect(writeFailureCode(error('EROFS'))).toBe('EROFS');
    expect(writeFailureCode(`preview 1 (https://x/y.jpeg): EACCES: permission denied, open '/m/.a.preview1.jpeg.0123456789ab.tmp'`)).toBe('EACCES');
    expect(writeFailureCode(error('ENOENT'))).toBeUndefined();
    expect(writeFailureCode('preview 1 (https://x/y.jpeg): read ECONNRESET')).toBeUndefined();
    expect(writeFailureCode('preview 1 (https://x/y.jpeg): HTTP 500')).toBeUndefined();
    expect(writeFailureHint('ENOSPC')).toMatch(/free some space/);
    expect(writeFailureHint('EROFS')).toMatch(/set output\.base_dir to a writable folder/);
    expect(writeFailureHint('EACCES', { baseDir: '/central' })).toMatch(/output\.base_dir \(\/central\) must be a folder this user can write to/);
    expect(writeFailureHint('EISDIR')).toMatch(/move it away/);
  });
});

/** The CLI as root without CAP_DAC_OVERRIDE (so file modes apply), or as the user we are. */
function cliAsUser(args: string[]): Promise<CliResult> {
  const caps = '-dac_override,-dac_read_search';
  const command = process.getuid?.() === 0 ? ['setpriv', `--inh-caps=${caps}`, `--bounding-set=${caps}`, process.execPath, BIN, ...args] : [process.execPath, BIN, ...args];
  return new Promise((resolve) => {
    const child = spawn(command[0] as string, command.slice(1), { env: childEnv(ws), cwd: ws.root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
