/**
 * Shared pieces of the hardening suites: a workspace whose fake CivitAI can be stopped and
 * restarted on the same port, fast test configs (no real waiting), snapshots of everything a
 * run writes, the state store's integrity, and a child process that runs the engine (for
 * kill -9 and for running without root's DAC override).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai, type FakeCivitaiOptions, type FaultCounts } from '../../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, sampleInputPaths, type SampleLibrary } from '../../src/dev/sample-library/index.ts';
import { parseConfig, selectJobs, type Config, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { createPrng } from '../../src/dev/fake-civitai/prng.ts';

export const SENTINEL_KEY = 'SENTINEL-hardening-key-7f3a9c21d4e8';
export const CHILD = path.join(import.meta.dirname, 'engine-child.ts');
/** tmpfs when there is one: faster, and a kill -9 keeps the page cache anyway. */
export const TMP_BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

export interface HardeningWorkspace {
  root: string;
  library: SampleLibrary;
  fake: FakeCivitai;
  /** Closes the fake (if running) and starts a new one on the same port. */
  restartFake(options?: Omit<FakeCivitaiOptions, 'library' | 'port'>): Promise<FakeCivitai>;
  close(): Promise<void>;
}

export async function createHardeningWorkspace(prefix: string, options: Omit<FakeCivitaiOptions, 'library'> = {}): Promise<HardeningWorkspace> {
  const root = await mkdtemp(path.join(TMP_BASE, prefix));
  const library = await generateSampleLibrary(path.join(root, 'pristine'));
  let open = false;
  /** Closing from inside a test ("the server stops") must not make a later close() throw. */
  const track = (fake: FakeCivitai): FakeCivitai => {
    open = true;
    const close = fake.close;
    fake.close = async () => {
      if (!open) return;
      open = false;
      await close();
    };
    return fake;
  };
  const ws: HardeningWorkspace = {
    root,
    library,
    fake: track(await startFakeCivitai({ ...options, library })),
    async restartFake(more = {}) {
      await ws.fake.close();
      ws.fake = track(await startFakeCivitai({ ...options, ...more, library, port: ws.fake.port }));
      return ws.fake;
    },
    // The workspace is in RAM (/dev/shm) and a few hundred MB: every test file leaving its own
    // filled the machine's memory run after run.
    close: async () => {
      await ws.fake.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return ws;
}

/** API settings that never wait for real: 1 ms backoff, no rate limit to speak of, a breaker that resets at once. */
export function fastApi(ws: HardeningWorkspace, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { batch, ...rest } = overrides as { batch?: Record<string, unknown> };
  return {
    base_url: ws.fake.apiBaseUrl,
    key: SENTINEL_KEY,
    timeout: 5,
    max_retries: 2,
    ...rest,
    batch: { retry_delay: 1, rate_limit: 1_000_000, max_concurrent: 4, circuit_breaker: { failure_threshold: 5, reset_timeout: 0.05 }, ...batch },
  };
}

export interface LibrarySetup {
  dir: string;
  configFile: string;
  config: Config;
  job: ScanJob;
  name: string;
  cacheDir: string;
}

/** A copy of the sample library and a config for it (also written to `<dir>/civitscraper.yaml` for children). */
export async function copyLibrary(
  ws: HardeningWorkspace,
  name: string,
  options: { api?: Record<string, unknown>; extra?: Record<string, unknown>; job?: Record<string, unknown>; from?: string } = {},
): Promise<LibrarySetup> {
  const dir = path.join(ws.root, name);
  await cp(options.from ?? path.join(ws.root, 'pristine'), dir, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  return writeLibraryConfig(dir, {
    api: fastApi(ws, options.api),
    input_paths: sampleInputPaths(dir),
    ...(options.job ? { jobs: { main: { type: 'scan-paths', ...options.job } } } : {}),
    ...options.extra,
  });
}

/** Writes `<dir>/civitscraper.yaml` (cache under `<dir>/.cache` unless given) and parses it. */
export async function writeLibraryConfig(dir: string, raw: Record<string, unknown>): Promise<LibrarySetup> {
  const cacheDir = path.join(dir, '.cache');
  const body = { scanner: { cache_dir: cacheDir }, ...raw };
  const text = stringify(body);
  const configFile = path.join(dir, 'civitscraper.yaml');
  await writeFile(configFile, text);
  const { config } = parseConfig(text, configFile);
  const [selected] = selectJobs(config, {});
  return { dir, configFile, config, job: selected?.job as ScanJob, name: selected?.name ?? 'default', cacheDir: path.resolve(config.scanner.cache_dir) };
}

export const identifiedEntries = (library: SampleLibrary) => library.entries.filter((entry) => entry.kind === 'identified');
export const unknownEntries = (library: SampleLibrary) => library.entries.filter((entry) => entry.kind === 'unknown');

/** Every regular file below `dir` (relative path → bytes), symlinks as `-> target`; folders in `skip` are left out. */
export async function readTree(dir: string, skip: string[] = ['.cache']): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      const relative = path.relative(dir, full);
      if (skip.includes(relative)) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isSymbolicLink()) out.set(relative, Buffer.from(`-> ${(await lstat(full)).size}`));
      else if (entry.isFile()) out.set(relative, await readFile(full));
    }
  };
  await walk(dir);
  return out;
}

export const sha = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Files a run writes (sidecars, compat files, previews): everything in the tree that is not a model or the config. */
export function isWritten(relative: string): boolean {
  return !/\.(safetensors|pt|ckpt|yaml)$/i.test(relative) && !relative.endsWith('.sample-library.json');
}

/** A leftover of an interrupted write (`.<name>.<hex>.tmp`, `<name>.<pid>.tmp`): never data. */
export const isTempFile = (relative: string) => /\.tmp$/.test(relative);

/**
 * A sidecar's content without the fields that change on every successful refresh (when it was
 * fetched). Two sidecars equal under this carry the same information.
 */
export function normalizeSidecar(text: string): unknown {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'checkedAt' || key === 'siblingVersionsFetchedAt' || key === 'fetchedAt') continue;
        out[key] = strip(inner);
      }
      return out;
    }
    return value;
  };
  return strip(JSON.parse(text));
}

/** What a written file "says": normalized JSON for sidecars, the bytes' hash otherwise. */
export function contentOf(relative: string, bytes: Buffer): string {
  if (/\.(json|civitai\.info)$/.test(relative)) {
    try {
      return JSON.stringify(normalizeSidecar(bytes.toString('utf8')));
    } catch {
      return `unparseable:${sha(bytes)}`;
    }
  }
  return sha(bytes);
}

/**
 * Checks `after` against a snapshot of good files: each must still be there, byte-identical, or
 * (for JSON after a successful refresh) identical but for fetch timestamps. Returns the problems.
 */
export function compareGoodFiles(good: Map<string, Buffer>, after: Map<string, Buffer>, options: { allowRefresh: boolean }): string[] {
  const problems: string[] = [];
  for (const [relative, bytes] of good) {
    if (!isWritten(relative) || isTempFile(relative)) continue;
    const now = after.get(relative);
    if (!now) {
      problems.push(`${relative}: deleted`);
      continue;
    }
    if (now.equals(bytes)) continue;
    if (options.allowRefresh && contentOf(relative, now) === contentOf(relative, bytes)) continue;
    problems.push(`${relative}: changed${/\.json$/.test(relative) ? ` (${describeJsonChange(bytes, now)})` : ''}`);
  }
  return problems;
}

function describeJsonChange(before: Buffer, after: Buffer): string {
  try {
    const a = normalizeSidecar(before.toString('utf8')) as Record<string, unknown>;
    const b = normalizeSidecar(after.toString('utf8')) as Record<string, unknown>;
    const diffs: string[] = [];
    const visit = (x: unknown, y: unknown, at: string) => {
      if (diffs.length > 4) return;
      if (JSON.stringify(x) === JSON.stringify(y)) return;
      if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
        for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
          visit((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key], at ? `${at}.${key}` : key);
        }
        return;
      }
      const size = (v: unknown) => (Array.isArray(v) ? `[${v.length}]` : v === undefined ? 'missing' : typeof v);
      diffs.push(`${at}: ${size(x)} -> ${size(y)}`);
    };
    visit(a, b, '');
    return diffs.join('; ');
  } catch {
    return 'no longer parses';
  }
}

/** The state store and its WAL/SHM, plus anything else the engine keeps in its cache dir. */
export async function cacheFiles(cacheDir: string): Promise<string[]> {
  if (!existsSync(cacheDir)) return [];
  const out: string[] = [];
  for (const entry of await readdir(cacheDir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out.sort();
}

export interface StoreCheck {
  present: boolean;
  file: string;
  integrity?: string;
  tables?: string[];
  notFound?: string[];
  /** Files the store moved aside as damaged. */
  movedAside: string[];
}

/**
 * Opens `<cacheDir>/state.sqlite` read-only (when it exists) and runs SQLite's integrity check.
 * A child process does it, so a lock or a crash in `node:sqlite` cannot take the suite down.
 */
export function checkStateStore(cacheDir: string): StoreCheck {
  const file = path.join(cacheDir, 'state.sqlite');
  const movedAside = existsSync(cacheDir) ? spawnSync('ls', [cacheDir], { encoding: 'utf8' }).stdout.split('\n').filter((name) => name.includes('.corrupt-')) : [];
  if (!existsSync(file)) return { present: false, file, movedAside };
  const script = `
    const { DatabaseSync } = require('node:sqlite');
    const db = new DatabaseSync(process.argv[1], { readOnly: true });
    const integrity = db.prepare('PRAGMA integrity_check').all().map((row) => Object.values(row)[0]).join(',');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((row) => row.name);
    let notFound = [];
    if (tables.includes('not_found')) notFound = db.prepare('SELECT sha256 FROM not_found').all().map((row) => String(row.sha256).toUpperCase());
    process.stdout.write(JSON.stringify({ integrity, tables, notFound }));
  `;
  const result = spawnSync(process.execPath, ['-e', script, file], { encoding: 'utf8' });
  if (result.status !== 0) return { present: true, file, integrity: `could not open: ${result.stderr.trim().split('\n').pop()}`, movedAside };
  return { present: true, file, movedAside, ...(JSON.parse(result.stdout) as Omit<StoreCheck, 'present' | 'file' | 'movedAside'>) };
}

export interface ChildArgs {
  configFile: string;
  /** Where the child writes its result JSON. */
  out: string;
  /** SIGKILL itself at this probe point (1-based). */
  killAt?: number;
  /** Applied once, right after discovery and before hashing (see engine-child.ts). */
  afterDiscover?: Array<{ op: 'unlink' | 'mkdir' | 'mkfifo' | 'replace-with-dir'; path: string }>;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Parsed result file, when the child got that far. */
  result?: { probes: number; report: Record<string, any>; records: Array<{ path: string; status: string; sha256?: string }> };
}

export interface SpawnOptions {
  /** Drop CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (root then obeys file modes). */
  dropDacCaps?: boolean;
  /** Called with each request the fake receives while the child runs; return true to kill -9 the child. */
  killWhen?: () => boolean;
  fake?: FakeCivitai;
  /** Safety net only (a hung child would otherwise hang the suite); never an assertion threshold. */
  hangGuardMs?: number;
}

/** True when `setpriv` can drop the DAC capabilities here (needed to test unreadable files as root). */
export function canDropDacCaps(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = spawnSync('setpriv', ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', 'true']);
  return probe.status === 0;
}

export async function runEngineChild(args: ChildArgs, options: SpawnOptions = {}): Promise<ChildResult> {
  const argsFile = `${args.out}.args.json`;
  await writeFile(argsFile, JSON.stringify(args));
  const command = options.dropDacCaps
    ? ['setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', process.execPath, CHILD, argsFile]
    : [process.execPath, CHILD, argsFile];
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let hung = false;
  const guard = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, options.hangGuardMs ?? 120_000);
  // Watch the fake's request log: the kill lands while the child is in the middle of that request.
  let restorePush: (() => void) | undefined;
  if (options.killWhen && options.fake) {
    const requests = options.fake.requests;
    const original = requests.push;
    requests.push = function push(...items) {
      const length = original.apply(this, items);
      if (options.killWhen?.()) child.kill('SIGKILL');
      return length;
    };
    restorePush = () => {
      requests.push = original;
    };
  }
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (c, s) => resolve({ code: c, signal: s })),
  );
  clearTimeout(guard);
  restorePush?.();
  if (hung) throw new Error(`the engine child hung (killed by the suite's safety net)\n${stderr.slice(-2000)}`);
  let result: ChildResult['result'];
  try {
    result = JSON.parse(await readFile(args.out, 'utf8'));
  } catch {
    result = undefined;
  }
  return { code, signal, stdout, stderr, ...(result ? { result } : {}) };
}

/** The project's seeded PRNG as a function: every seed picks the same point on every machine. */
export function rng(seed: number): () => number {
  const prng = createPrng(seed);
  return () => prng.next();
}

export const totalFaults = (counts: FaultCounts) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** Prints one line of figures for the suite's summary (quoted in docs and PRs). */
export function figures(suite: string, what: string, values: Record<string, unknown>): void {
  console.info(`[hardening:${suite}] ${what}: ${JSON.stringify(values)}`);
}

/**
 * A copy of the fake's recorded CivitAI bodies with every object passed through `visit`
 * (mutate it in place): what a hostile or compromised API would send.
 */
export async function poisonedFixtures(dir: string, visit: (object: Record<string, unknown>, file: string) => void): Promise<string> {
  const { DEFAULT_FIXTURES_DIR } = await import('../../src/dev/fake-civitai/index.ts');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(DEFAULT_FIXTURES_DIR)) {
    if (!name.endsWith('.json')) continue;
    const body = JSON.parse(await readFile(path.join(DEFAULT_FIXTURES_DIR, name), 'utf8')) as unknown;
    const walk = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const inner of Object.values(value)) walk(inner);
        visit(value as Record<string, unknown>, name);
      }
    };
    walk(body);
    await writeFile(path.join(dir, name), JSON.stringify(body));
  }
  return dir;
}
