/**
 * Running the `civitscraper` command as a child process against the fake CivitAI and copies of
 * the sample library: what every CLI test does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, sampleInputPaths, type SampleLibrary } from '../../src/dev/sample-library/index.ts';
import { COMMANDS } from '../../src/integration/cli/args.ts';

export const BIN = path.resolve('bin/civitscraper.mjs');
export const API_KEY = 'cli-sentinel-key-42';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliWorkspace {
  root: string;
  library: SampleLibrary;
  fake: FakeCivitai;
  close(): Promise<void>;
}

export async function createCliWorkspace(prefix: string): Promise<CliWorkspace> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const library = await generateSampleLibrary(path.join(root, 'pristine'));
  const fake = await startFakeCivitai({ library });
  return {
    root,
    library,
    fake,
    close: async () => {
      await fake.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Environment for a child: no config found by accident, no TTY tricks. */
export function childEnv(workspace: CliWorkspace, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: workspace.root, CIVITSCRAPER_CONFIG: '', ...extra };
  delete env.CIVITAI_API_KEY;
  return env;
}

const COMMAND_NAMES = new Set<string>(COMMANDS);

/**
 * The arguments as given, plus `--no-site` on a scan: the default command builds the gallery
 * site when the config's HTML output is on (the default), and these tests are about the engine.
 * A test of the site step passes `--site` (removed here) to keep it.
 */
export function engineArgs(args: readonly string[]): string[] {
  if (args.includes('--site')) return args.filter((arg) => arg !== '--site');
  const isScan = !args.some((arg) => COMMAND_NAMES.has(arg) && arg !== 'scan');
  const info = args.some((arg) => ['--help', '-h', '--version', '-v'].includes(arg));
  return isScan && !info && !args.includes('--no-site') ? [...args, '--no-site'] : [...args];
}

export function cli(workspace: CliWorkspace, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...engineArgs(args)],
      { env: childEnv(workspace, options.env), cwd: options.cwd ?? workspace.root, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

export interface LibraryCopy {
  dir: string;
  file: string;
  paths: ReturnType<typeof sampleInputPaths>;
}

type InputId = keyof ReturnType<typeof sampleInputPaths>;

/**
 * A copy of the sample library and a config for it. `inputs` limits the input paths;
 * `extra` is merged into the config's top level.
 */
export async function libraryCopy(
  workspace: CliWorkspace,
  name: string,
  options: { inputs?: InputId[]; extra?: Record<string, unknown> } = {},
): Promise<LibraryCopy> {
  const dir = path.join(workspace.root, name);
  await cp(path.join(workspace.root, 'pristine'), dir, { recursive: true, verbatimSymlinks: true });
  const paths = sampleInputPaths(dir);
  const inputPaths = options.inputs ? Object.fromEntries(options.inputs.map((id) => [id, paths[id]])) : paths;
  const file = path.join(dir, 'civitscraper.yaml');
  await writeConfig(file, {
    api: { base_url: workspace.fake.apiBaseUrl, key: API_KEY, max_retries: 1, batch: { retry_delay: 1 } },
    input_paths: inputPaths,
    scanner: { cache_dir: path.join(dir, '.cache') },
    logging: { console: { simple: true } },
    ...options.extra,
  });
  return { dir, file, paths };
}

export async function writeConfig(file: string, config: Record<string, unknown>): Promise<void> {
  await writeFile(file, stringify(config));
}

/**
 * Path → SHA-256 (files) or `-> target` (symlinks) of everything under `dir`, except the
 * folders named in `skip` (the state store): "nothing changed on disk" is this map unchanged.
 */
export async function treeDigest(dir: string, skip: string[] = ['.cache']): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      const relative = path.relative(dir, full);
      if (skip.includes(relative)) continue;
      if (entry.isDirectory()) {
        out[`${relative}/`] = 'dir';
        await walk(full);
      } else if (entry.isSymbolicLink()) {
        out[relative] = `-> ${await readlink(full)}`;
      } else {
        const stats = await lstat(full);
        out[relative] = `${createHash('sha256').update(await readFile(full)).digest('hex')} ${stats.mtimeMs}`;
      }
    }
  };
  await walk(dir);
  return out;
}

export async function readJson<T = Record<string, any>>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/** Starts the command; resolves `lines` as they arrive on stderr. */
export function startCli(workspace: CliWorkspace, args: string[], env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...engineArgs(args)], {
    env: childEnv(workspace, env),
    cwd: workspace.root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: (match: RegExpMatchArray | undefined) => void }> = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = stderr.match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    check();
  });
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      for (const waiter of waiters.splice(0)) waiter.resolve(undefined);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  return {
    child,
    exited,
    /** The first match of `pattern` in stderr, or undefined when the process ends without one. */
    waitFor(pattern: RegExp): Promise<RegExpMatchArray | undefined> {
      const match = stderr.match(pattern);
      if (match) return Promise.resolve(match);
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}

/** Runs the command under a pseudo-terminal (util-linux `script`): what a person at a terminal sees. */
export function cliInPty(workspace: CliWorkspace, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, BIN, ...engineArgs(args)].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: childEnv(workspace, { TERM: 'xterm-256color', COLUMNS: '160', LINES: '40', ...env }),
      cwd: workspace.root,
      // stdin stays open (a pipe we never end): `script` stops when its input ends.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
