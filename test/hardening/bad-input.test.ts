/**
 * Bad-input suite: a library of every kind of broken, hostile or odd file the scanner can meet,
 * run through the engine in a child process (so a hang or a crash is a failed test, not a stuck
 * suite, and so root can be made to obey file modes: the child runs without CAP_DAC_OVERRIDE).
 * Every bad input must get a clear message in the report; none may crash or hang the run; the
 * good files beside them are still processed.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, ftruncateSync, mkdirSync, openSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT as PROJECT_ROOT } from '../../src/integration/cli/build-site.ts';
import { sampleInputPaths } from '../../src/dev/sample-library/index.ts';
import {
  canDropDacCaps,
  copyLibrary,
  createHardeningWorkspace,
  fastApi,
  figures,
  runEngineChild,
  SENTINEL_KEY,
  TMP_BASE,
  writeLibraryConfig,
  type ChildResult,
  type HardeningWorkspace,
} from './helpers.ts';

const run = promisify(execFile);
let ws: HardeningWorkspace;
beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-bad-');
});
afterAll(async () => {
  await ws?.close();
});

/** A small valid safetensors file; `salt` makes its bytes (and hashes) unique. */
function safetensors(salt: string, metadata: Record<string, string> = {}): Buffer {
  const data = Buffer.alloc(256);
  Buffer.from(`tensor data of ${salt}`).copy(data);
  const header = Buffer.from(JSON.stringify({ __metadata__: metadata, w: { dtype: 'F32', shape: [64], data_offsets: [0, 256] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

function declaredHeader(length: bigint, rest: Buffer): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length);
  return Buffer.concat([prefix, rest]);
}

interface Case {
  /** Path below the input root (as created; for Buffer names, the readable prefix). */
  name: string;
  what: string;
  /** Expected: a report entry for it whose message matches; or a record (a good file). */
  expect: { message: RegExp } | { record: true } | { nothing: true };
}

const CASES: Case[] = [
  { name: 'empty.safetensors', what: 'empty file', expect: { message: /empty/i } },
  { name: 'short.safetensors', what: '3 bytes', expect: { message: /too short/i } },
  { name: 'truncated.safetensors', what: 'header length larger than the file', expect: { message: /claims \d+ header bytes/i } },
  { name: 'corrupt-header.safetensors', what: 'header is not JSON', expect: { message: /not valid JSON/i } },
  { name: 'header-array.safetensors', what: 'header is a JSON array', expect: { message: /not a JSON object/i } },
  { name: 'header-2pow60.safetensors', what: 'header claims 2^60 bytes', expect: { message: /claims 1152921504606846976 header bytes/ } },
  { name: 'header-max.safetensors', what: 'header claims 2^64-1 bytes', expect: { message: /claims 18446744073709551615 header bytes/ } },
  { name: 'huge-header.safetensors', what: 'sparse 120 MiB file, header claims 110 MiB (over the 100 MB cap)', expect: { message: /claims 115343360 header bytes|too large|larger/i } },
  { name: 'big-valid-header.safetensors', what: 'legal 3 MB header of metadata', expect: { record: true } },
  { name: 'good.safetensors', what: 'a valid file (control)', expect: { record: true } },
  { name: 'd1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.safetensors', what: '10 levels of nesting', expect: { record: true } },
  { name: 'folder.safetensors/inner.safetensors', what: 'a folder named like a model (its content is still found)', expect: { record: true } },
  { name: 'broken-link.safetensors', what: 'broken symlink', expect: { message: /broken symlink/i } },
  { name: 'loop-a.safetensors', what: 'symlink loop (a → b → a)', expect: { message: /loop/i } },
  { name: 'loop-b.safetensors', what: 'symlink loop (b → a → b)', expect: { message: /loop/i } },
  { name: 'loopdir', what: 'folder symlink to its own parent', expect: { nothing: true } },
  { name: 'vanishes.safetensors', what: 'deleted between discovery and hashing', expect: { message: /disappeared|does not exist|no longer/i } },
  { name: 'becomes-folder.safetensors', what: 'replaced by a folder between discovery and hashing', expect: { message: /folder|directory/i } },
  { name: 'grows.safetensors', what: 'appended to while it is hashed', expect: { message: /chang/i } },
  { name: 'bad-utf8-', what: 'file name that is not valid UTF-8', expect: { message: /UTF-8|encoding|rename/i } },
  { name: 'dir-bad-utf8-', what: 'folder name that is not valid UTF-8', expect: { message: /UTF-8|encoding|rename/i } },
  { name: 'fifo.safetensors', what: 'a FIFO named like a model', expect: { message: /not a (regular )?file|FIFO|pipe|special/i } },
];

const UNREADABLE: Case[] = [
  { name: 'unreadable.safetensors', what: 'file with mode 000', expect: { message: /permission denied/i } },
  { name: 'locked-folder', what: 'folder with mode 000', expect: { message: /permission denied/i } },
];

async function buildBadLibrary(root: string, withUnreadable: boolean): Promise<void> {
  const at = (name: string) => path.join(root, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(at('empty.safetensors'), Buffer.alloc(0));
  writeFileSync(at('short.safetensors'), Buffer.from([1, 2, 3]));
  writeFileSync(at('truncated.safetensors'), declaredHeader(1_000_000n, Buffer.from('{"__metadata__":{"a":"b')));
  writeFileSync(at('corrupt-header.safetensors'), declaredHeader(20n, Buffer.from('this is not JSON!!!!and then some data')));
  writeFileSync(at('header-array.safetensors'), declaredHeader(5n, Buffer.from('[1,2]0123456789')));
  writeFileSync(at('header-2pow60.safetensors'), declaredHeader(2n ** 60n, Buffer.from('{}')));
  writeFileSync(at('header-max.safetensors'), declaredHeader(2n ** 64n - 1n, Buffer.from('{}')));
  // Sparse: 120 MiB on paper, a few bytes on disk.
  const fd = openSync(at('huge-header.safetensors'), 'w');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(110n * 1024n * 1024n);
  writeSync(fd, prefix, 0, 8, 0);
  writeSync(fd, Buffer.from('{"__metadata__":{'), 0, 17, 8);
  ftruncateSync(fd, 120 * 1024 * 1024);
  closeSync(fd);
  writeFileSync(at('big-valid-header.safetensors'), safetensors('big', { ss_tag_frequency: 'x'.repeat(3 * 1024 * 1024) }));
  writeFileSync(at('good.safetensors'), safetensors('good'));
  mkdirSync(at('d1/d2/d3/d4/d5/d6/d7/d8/d9/d10'), { recursive: true });
  writeFileSync(at('d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.safetensors'), safetensors('deep'));
  mkdirSync(at('folder.safetensors'));
  writeFileSync(at('folder.safetensors/inner.safetensors'), safetensors('inner'));
  symlinkSync('nowhere/missing.safetensors', at('broken-link.safetensors'));
  symlinkSync('loop-b.safetensors', at('loop-a.safetensors'));
  symlinkSync('loop-a.safetensors', at('loop-b.safetensors'));
  symlinkSync('.', at('loopdir'));
  writeFileSync(at('vanishes.safetensors'), safetensors('vanishes'));
  writeFileSync(at('becomes-folder.safetensors'), safetensors('becomes-folder'));
  writeFileSync(at('grows.safetensors'), safetensors('grows'));
  // Names that are not UTF-8: only a Buffer path can create them.
  const rootBytes = Buffer.from(`${root}/`);
  writeFileSync(Buffer.concat([rootBytes, Buffer.from('bad-utf8-'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('.safetensors')]), safetensors('bad-utf8'));
  const badDir = Buffer.concat([rootBytes, Buffer.from('dir-bad-utf8-'), Buffer.from([0xc3, 0x28])]);
  mkdirSync(badDir);
  writeFileSync(Buffer.concat([badDir, Buffer.from('/inside.safetensors')]), safetensors('inside-bad-dir'));
  execFileSync('mkfifo', [at('fifo.safetensors')]);
  if (withUnreadable) {
    writeFileSync(at('unreadable.safetensors'), safetensors('unreadable'));
    chmodSync(at('unreadable.safetensors'), 0o000);
    mkdirSync(at('locked-folder'));
    writeFileSync(at('locked-folder/hidden-model.safetensors'), safetensors('locked'));
    chmodSync(at('locked-folder'), 0o000);
  }
}

async function badConfig(dir: string) {
  return writeLibraryConfig(dir, {
    api: fastApi(ws),
    input_paths: { bad: { path: path.join(dir, 'bad'), type: 'LORA', patterns: ['*.safetensors'], recursive: true } },
  });
}

/** A process that appends to `file` as fast as it can until it is killed. */
function startGrowing(file: string) {
  const script = `const fs = require('node:fs'); const fd = fs.openSync(process.argv[1], 'a'); const b = Buffer.alloc(64, 7); process.stdout.write('ready\\n'); for (;;) fs.writeSync(fd, b);`;
  const child = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { child, ready };
}

function entriesFor(result: ChildResult, file: string) {
  const report = result.result?.report ?? {};
  const all = [...(report.errors ?? []), ...(report.warnings ?? [])] as Array<{ path: string; stage: string; message: string }>;
  return all.filter((entry) => entry.path === file || entry.path.startsWith(file));
}

describe('bad inputs', () => {
  it('every broken, hostile or odd file gets a clear message; the run finishes and the good files are processed', async () => {
    const dir = path.join(ws.root, 'bad-library');
    const bad = path.join(dir, 'bad');
    const dropCaps = canDropDacCaps();
    const unreadable = process.getuid?.() !== 0 || dropCaps;
    await buildBadLibrary(bad, unreadable);
    const setup = await badConfig(dir);
    const grower = startGrowing(path.join(bad, 'grows.safetensors'));
    await grower.ready;
    let result: ChildResult;
    try {
      result = await runEngineChild(
        {
          configFile: setup.configFile,
          out: path.join(dir, 'result.json'),
          afterDiscover: [
            { op: 'unlink', path: path.join(bad, 'vanishes.safetensors') },
            { op: 'replace-with-dir', path: path.join(bad, 'becomes-folder.safetensors') },
          ],
        },
        { dropDacCaps: dropCaps, hangGuardMs: 60_000 },
      );
    } finally {
      grower.child.kill('SIGKILL');
    }
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    expect(result.result, result.stderr).toBeDefined();

    const cases = unreadable ? [...CASES, ...UNREADABLE] : CASES;
    const outcome: Record<string, string> = {};
    const problems: string[] = [];
    for (const testCase of cases) {
      const file = path.join(bad, testCase.name);
      const entries = entriesFor(result, file);
      const record = result.result?.records.find((candidate) => candidate.path === file);
      outcome[testCase.name] = entries.map((entry) => `${entry.stage}: ${entry.message}`).join(' | ') || (record ? `record (${record.status})` : 'nothing');
      if ('message' in testCase.expect) {
        if (!entries.some((entry) => testCase.expect && 'message' in testCase.expect && testCase.expect.message.test(entry.message))) {
          problems.push(`${testCase.name} (${testCase.what}): expected a message matching ${testCase.expect.message}, got: ${outcome[testCase.name]}`);
        }
        if (record && testCase.name !== 'grows.safetensors') problems.push(`${testCase.name}: became a record`);
      } else if ('record' in testCase.expect) {
        if (record?.status !== 'not-found') problems.push(`${testCase.name} (${testCase.what}): expected a record (not on CivitAI), got: ${outcome[testCase.name]}`);
      } else if (entries.length > 0 || record) {
        problems.push(`${testCase.name} (${testCase.what}): expected nothing, got: ${outcome[testCase.name]}`);
      }
    }
    // The folder symlink loop is walked once: the files below it are not found twice.
    const paths = result.result?.records.map((record) => record.path) ?? [];
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.filter((file) => file.includes('/loopdir/'))).toEqual([]);
    // Messages are meant for people: no stack traces, no "[object Object]".
    for (const entry of [...(result.result?.report.errors ?? []), ...(result.result?.report.warnings ?? [])]) {
      expect(entry.message).not.toMatch(/\n\s+at |\[object Object\]/);
    }
    figures('bad-input', 'inputs tried', {
      cases: cases.length,
      unreadableCases: unreadable ? (dropCaps ? 'run as root without CAP_DAC_OVERRIDE (setpriv)' : 'non-root') : 'skipped: root and setpriv cannot drop CAP_DAC_OVERRIDE',
      errors: result.result?.report.errors.length,
      warnings: result.result?.report.warnings.length,
      records: paths.length,
    });
    for (const [name, text] of Object.entries(outcome)) console.info(`[hardening:bad-input]   ${name}: ${text}`);
    expect(problems).toEqual([]);
  });

  it('a FIFO where the sidecar goes, or swapped in for a model after discovery, does not hang the run', async () => {
    const dir = path.join(ws.root, 'fifo-library');
    const bad = path.join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'with-fifo-sidecar.safetensors'), safetensors('fifo-sidecar'));
    execFileSync('mkfifo', [path.join(bad, 'with-fifo-sidecar.json')]);
    writeFileSync(path.join(bad, 'becomes-fifo.safetensors'), safetensors('becomes-fifo'));
    writeFileSync(path.join(bad, 'control.safetensors'), safetensors('control'));
    const setup = await badConfig(dir);
    const result = await runEngineChild(
      {
        configFile: setup.configFile,
        out: path.join(dir, 'result.json'),
        afterDiscover: [{ op: 'mkfifo', path: path.join(bad, 'becomes-fifo.safetensors') }],
      },
      // A safety net so a hang fails this test instead of the whole suite; a healthy run takes about a second.
      { hangGuardMs: 15_000 },
    );
    expect(result.code, result.stderr).toBe(0);
    const control = result.result?.records.find((record) => record.path === path.join(bad, 'control.safetensors'));
    expect(control?.status).toBe('not-found');
    const fifoModel = entriesFor(result, path.join(bad, 'becomes-fifo.safetensors'));
    expect(fifoModel.map((entry) => entry.message).join(' ')).toMatch(/not a (regular )?file|FIFO|pipe|special/i);
    const fifoSidecar = entriesFor(result, path.join(bad, 'with-fifo-sidecar.safetensors'));
    expect(fifoSidecar.map((entry) => entry.message).join(' ')).toMatch(/not ours|not a (regular )?file|FIFO|pipe|special/i);
    figures('bad-input', 'FIFO cases', { tried: 2, outcome: [...fifoModel, ...fifoSidecar].map((entry) => entry.message) });
  });

  it('a config with every kind of mistake: exit 2, each mistake named with key and line, no stack trace, no key echoed', async () => {
    const dir = path.join(ws.root, 'bad-config');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'civitscraper.yaml');
    const text = [
      'api:',
      `  key: ${SENTINEL_KEY}`,
      '  base_url: ftp://civitai.com/api/v1',
      '  max_retries: three',
      '  timeout: -5',
      '  batch:',
      '    rate_limit: 0',
      '    circuit_breaker: { failure_threshold: 1.5 }',
      '  colour: blue',
      'input_paths:',
      '  loras: { type: LORA }',
      '  checkpoints: { path: /nonexistent/models, type: 42 }',
      'scanner:',
      '  cache_validity: forever',
      'default_job: nope',
      'jobs:',
      '  main:',
      '    type: teleport',
      '  other:',
      '    type: scan-paths',
      '    paths: [missing_input]',
      '    organization: { operation_mode: fling }',
      'mystery_section: true',
      '',
    ].join('\n');
    writeFileSync(file, text);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, CIVITSCRAPER_CONFIG: '' };
    delete env.CIVITAI_API_KEY;
    const result = await run(process.execPath, [path.resolve('bin/civitscraper.mjs'), '--config', file], { env, cwd: dir }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    const output = `${result.stdout}${result.stderr}`;
    expect(output).toContain(file);
    const keys = ['api.base_url', 'api.max_retries', 'api.timeout', 'input_paths.loras.path'];
    for (const key of keys) expect(output, key).toContain(key);
    expect(output).toMatch(/line \d+/);
    expect(output).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect(output).not.toContain(SENTINEL_KEY);
    const lines = output.split('\n').filter((line) => /line \d+/.test(line));
    figures('bad-input', 'config with every kind of mistake', { mistakesWritten: 14, unknownKeysNotListed: ['api.colour', 'mystery_section'], linesNamingALine: lines.length, exitCode: result.code });
    console.info(output.split('\n').slice(0, 30).map((line) => `[hardening:bad-input]   ${line}`).join('\n'));
  });

  // The gallery goes wherever --out says, also to another filesystem (a web root, a NAS, tmpfs).
  it.skipIf(statSync(PROJECT_ROOT).dev === statSync(TMP_BASE).dev)('civitscraper build --out <a folder on another filesystem than the project> builds the site', async () => {
    const dir = path.join(ws.root, 'exdev');
    const setup = await copyLibrary(ws, 'exdev', { extra: { input_paths: { embeddings: sampleInputPaths(dir).embeddings } } });
    const outDir = path.join(ws.root, 'exdev-dist');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, CIVITSCRAPER_CONFIG: '' };
    delete env.CIVITAI_API_KEY;
    const args = [path.join(PROJECT_ROOT, 'bin/civitscraper.mjs'), 'build', '--config', setup.configFile, '--out', outDir, '--astro-cache', path.join(ws.root, 'exdev-astro'), '--quiet'];
    const result = await run(process.execPath, args, { env, cwd: dir, maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    figures('bad-input', 'site output on another filesystem', { outDir, exitCode: result.code, error: /the site build failed: [^\n]*/.exec(result.stderr)?.[0] ?? null });
    expect(result.stderr).not.toMatch(/the site build failed/);
    expect(result.code).toBe(0);
    expect(existsSync(path.join(outDir, 'index.html'))).toBe(true);
  });
});
