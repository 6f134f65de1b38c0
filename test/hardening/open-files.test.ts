/**
 * Open files: a library of thousands of files is scanned under a low file-descriptor limit
 * (`ulimit -n`) without a single EMFILE. Discovery, header reads, other tools' sidecars and the
 * hash pool each keep a bounded number of files open, whatever the size of the library.
 *
 * The engine runs in a child process (engine-child.ts) started through `bash -c 'ulimit -n …'`,
 * so the limit applies to it alone.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Catalog, startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { CHILD, figures, TMP_BASE } from './helpers.ts';

/** Far more files than the limit below: every one opened at once would fail. */
const FLAT = 2000;
const NESTED = 1000;
const FILES = FLAT + NESTED;
/** Every fourth file has a ComfyUI-Lora-Manager sidecar whose hashes spare the read. */
const SEEDED_EVERY = 4;
/** Node itself, its worker threads and the HTTP client need a few dozen; the rest is for files. */
const FD_LIMIT = 256;

let dir: string;
let fake: FakeCivitai;
const paths: string[] = [];

function tinySafetensors(seed: number): Buffer {
  const data = createHash('sha256').update(`open-files tensor ${seed}`).digest();
  const header = Buffer.from(JSON.stringify({ __metadata__: { ss_output_name: `m${seed}` }, w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(TMP_BASE, 'cs-open-files-'));
  const catalog = new Catalog();
  const versions = catalog.allVersionIds().filter((id) => catalog.versionObjects(id).some((version) => (version.files ?? []).length > 0));
  const bindings = [];
  for (let index = 0; index < FILES; index += 1) {
    const bytes = tinySafetensors(index);
    const folder = index < FLAT ? path.join(dir, 'library', 'flat') : path.join(dir, 'library', 'nested', `shelf-${index % 10}`);
    await mkdir(folder, { recursive: true });
    const file = path.join(folder, `model-${index}.safetensors`);
    await writeFile(file, bytes);
    paths.push(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex').toUpperCase();
    if (index % SEEDED_EVERY === 0) {
      await writeFile(path.join(folder, `model-${index}.metadata.json`), JSON.stringify({ sha256: sha256.toLowerCase(), size: bytes.length, hash_status: 'completed' }));
    }
    bindings.push({ sha256, size: bytes.length, versionId: versions[index % versions.length] as number });
  }
  fake = await startFakeCivitai({ bindings });
});
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface ChildOutcome {
  code: number | null;
  stderr: string;
  result?: { report: { errors: { path: string; stage: string; message: string }[]; hash: { files: number; fromLedger: number; fromSidecars: number }; files: { found: number } }; records: { path: string; status: string }[] };
}

/** Runs engine-child.ts on `configFile` with at most `limit` open file descriptors. */
async function runLimited(configFile: string, out: string, limit: number): Promise<ChildOutcome> {
  const argsFile = `${out}.args.json`;
  await writeFile(argsFile, JSON.stringify({ configFile, out }));
  const child = spawn('bash', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, CHILD, argsFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // Safety net only: a hung child would otherwise hang the suite.
  const guard = setTimeout(() => child.kill('SIGKILL'), 170_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  clearTimeout(guard);
  let result: ChildOutcome['result'];
  try {
    result = JSON.parse(await readFile(out, 'utf8'));
  } catch {
    result = undefined;
  }
  return { code, stderr, ...(result ? { result } : {}) };
}

async function writeConfig(name: string): Promise<string> {
  const configFile = path.join(dir, `${name}.yaml`);
  await writeFile(
    configFile,
    stringify({
      api: { base_url: fake.apiBaseUrl, key: 'open-files-key', max_retries: 1, batch: { retry_delay: 1, rate_limit: 1_000_000 } },
      input_paths: { models: { path: path.join(dir, 'library'), type: 'LORA' } },
      jobs: { scan: { type: 'scan-paths', output: { images: { save: false } } } },
      scanner: { cache_dir: path.join(dir, `.cache-${name}`) },
    }),
  );
  return configFile;
}

const emfile = (outcome: ChildOutcome) => [
  ...(outcome.result?.report.errors ?? []).filter((entry) => /EMFILE|too many open files/i.test(entry.message)),
  ...(/EMFILE|too many open files/i.test(outcome.stderr) ? [{ path: '', stage: 'stderr', message: outcome.stderr.slice(-500) }] : []),
];

describe(`a library of ${FILES} files under ulimit -n ${FD_LIMIT}`, () => {
  it('is scanned whole, cold and warm: every file read or seeded, no EMFILE', async () => {
    const configFile = await writeConfig('limited');
    const cold = await runLimited(configFile, path.join(dir, 'cold.json'), FD_LIMIT);
    const coldEmfile = emfile(cold);
    figures('open-files', 'cold run', { files: FILES, fdLimit: FD_LIMIT, code: cold.code, emfile: coldEmfile.length, errors: cold.result?.report.errors.length, hash: cold.result?.report.hash });
    expect(coldEmfile.slice(0, 3), 'EMFILE in the cold run').toEqual([]);
    expect(cold.code, cold.stderr.slice(-2000)).toBe(0);
    expect(cold.result?.report.errors.slice(0, 5)).toEqual([]);
    expect(cold.result?.report.files.found).toBe(FILES);
    expect(cold.result?.records).toHaveLength(FILES);
    expect(new Set(cold.result?.records.map((record) => record.path))).toEqual(new Set(paths));
    expect(cold.result?.records.every((record) => record.status === 'identified')).toBe(true);
    const hash = cold.result?.report.hash;
    expect(hash?.fromSidecars).toBe(FILES / SEEDED_EVERY);
    expect((hash?.files ?? 0) + (hash?.fromSidecars ?? 0)).toBe(FILES);

    const warm = await runLimited(configFile, path.join(dir, 'warm.json'), FD_LIMIT);
    figures('open-files', 'warm run', { code: warm.code, emfile: emfile(warm).length, hash: warm.result?.report.hash });
    expect(emfile(warm).slice(0, 3), 'EMFILE in the warm run').toEqual([]);
    expect(warm.code, warm.stderr.slice(-2000)).toBe(0);
    expect(warm.result?.records).toHaveLength(FILES);
    expect(warm.result?.report.errors.slice(0, 5)).toEqual([]);
  });
});
