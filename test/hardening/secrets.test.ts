/**
 * Secrets suite: with a sentinel API key (in the config file, and in CIVITAI_API_KEY), run the
 * CLI with --debug and a log file, and build the site; then look for the key, in every encoding
 * a leak could take, in everything those runs produced: stdout, stderr, the log file, the JSON
 * report, every sidecar and preview, the state store (and its WAL), Astro's cache, dist/, and
 * any file the build touched in the project folder. The fake CivitAI must have seen the key
 * only on API requests, never on the image CDN (same origin, other path), and a redirect from
 * the API must not carry it to another origin.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT as PROJECT_ROOT } from '../../src/integration/cli/build-site.ts';
import { startFakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import {
  copyLibrary,
  createHardeningWorkspace,
  fastApi,
  figures,
  poisonedFixtures,
  SENTINEL_KEY,
  type HardeningWorkspace,
} from './helpers.ts';

const ENV_KEY = 'SENTINEL-env-key-5b21e09c7a44d3f8';
let ws: HardeningWorkspace;
beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-secrets-');
});
afterAll(async () => {
  await ws?.close();
});

/** The key as a leak could spell it. */
function forms(secret: string): Array<{ name: string; bytes: Buffer }> {
  return [
    { name: 'utf8', bytes: Buffer.from(secret, 'utf8') },
    { name: 'utf16le', bytes: Buffer.from(secret, 'utf16le') },
    { name: 'base64', bytes: Buffer.from(Buffer.from(secret).toString('base64').replace(/=+$/, '')) },
    { name: 'base64 of "Bearer <key>"', bytes: Buffer.from(Buffer.from(`Bearer ${secret}`).toString('base64').replace(/=+$/, '')) },
    { name: 'hex', bytes: Buffer.from(Buffer.from(secret).toString('hex')) },
    { name: 'url-encoded', bytes: Buffer.from(encodeURIComponent(`Bearer ${secret}`)) },
  ];
}

interface Scan {
  files: number;
  bytes: number;
  leaks: string[];
}

async function scanTree(root: string, secrets: string[], scan: Scan, options: { skip?: (file: string) => boolean; since?: number } = {}): Promise<void> {
  if (!existsSync(root)) return;
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (options.skip?.(file)) continue;
    if (options.since !== undefined && (await stat(file)).mtimeMs < options.since) continue;
    scanBytes(file, await readFile(file), secrets, scan);
  }
}

function scanBytes(label: string, bytes: Buffer, secrets: string[], scan: Scan): void {
  scan.files += 1;
  scan.bytes += bytes.length;
  for (const secret of secrets) for (const form of forms(secret)) if (bytes.includes(form.bytes)) scan.leaks.push(`${label} (${form.name})`);
}

function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CIVITSCRAPER_CONFIG: '', ...env };
  if (!env.CIVITAI_API_KEY) delete childEnv.CIVITAI_API_KEY;
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(PROJECT_ROOT, 'bin/civitscraper.mjs'), ...args], { env: childEnv, cwd, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every request with credentials went below /api/v1 with this key; none to the CDN; every API request had it. */
function expectKeyOnlyOnApi(requests: Array<{ path: string; headers: IncomingHttpHeaders }>, key: string) {
  const api = requests.filter((request) => request.path.startsWith('/api/v1/'));
  const cdn = requests.filter((request) => request.path.startsWith('/cdn/'));
  expect(api.length).toBeGreaterThan(0);
  expect(cdn.length).toBeGreaterThan(0);
  for (const request of api) expect(request.headers.authorization, request.path).toBe(`Bearer ${key}`);
  for (const request of cdn) {
    expect(request.headers.authorization, request.path).toBeUndefined();
    expect(request.headers.cookie, request.path).toBeUndefined();
    expect(JSON.stringify(request.headers)).not.toContain(key);
  }
  for (const request of requests) expect(request.path).not.toContain(key);
  return { api: api.length, cdn: cdn.length };
}

describe('the API key never leaks', () => {
  it('CLI build (scan + site) with --debug, a log file and a report: the key is nowhere in what it wrote or printed', async () => {
    const setup = await copyLibrary(ws, 'build', {
      extra: {
        logging: { level: 'DEBUG', console: { simple: false }, file: { enabled: true, level: 'DEBUG', directory: path.join(ws.root, 'build', 'logs') } },
      },
    });
    // dist/ beside the project's filesystem (Astro renames its prerendered files into it).
    const siteDir = await mkdtemp(path.join(tmpdir(), 'cs-secrets-site-'));
    const outDir = path.join(siteDir, 'dist');
    const astroCache = path.join(siteDir, 'astro-cache');
    const reportFile = path.join(ws.root, 'build-report.json');
    const since = Date.now() - 1000;
    const before = ws.fake.requests.length;
    const build = await runCli(
      ['build', '--config', setup.configFile, '--out', outDir, '--astro-cache', astroCache, '--debug', '--report', reportFile],
      { HOME: ws.root },
      ws.root,
    );
    expect(build.stderr).toMatch(/POST .*by-hash/);
    expect(build.stderr).not.toMatch(/the site build failed/);
    const requests = expectKeyOnlyOnApi(ws.fake.requests.slice(before), SENTINEL_KEY);

    // Then a scan with the key from the environment (it overrides the config's), forced to ask again.
    const envBefore = ws.fake.requests.length;
    const scan = await runCli(['scan', '--config', setup.configFile, '--debug', '--json', '--force-refresh'], { HOME: ws.root, CIVITAI_API_KEY: ENV_KEY }, ws.root);
    expect(scan.stdout.trim().startsWith('{'), scan.stderr.slice(-2000)).toBe(true);
    const envRequests = ws.fake.requests.slice(envBefore);
    expect(envRequests.filter((request) => request.path.startsWith('/api/')).every((request) => request.headers.authorization === `Bearer ${ENV_KEY}`)).toBe(true);
    expect(envRequests.every((request) => request.path.startsWith('/api/') || request.headers.authorization === undefined)).toBe(true);

    const secrets = [SENTINEL_KEY, ENV_KEY];
    const scan_: Scan = { files: 0, bytes: 0, leaks: [] };
    scanBytes('build stdout', Buffer.from(build.stdout), secrets, scan_);
    scanBytes('build stderr', Buffer.from(build.stderr), secrets, scan_);
    scanBytes('scan stdout (report JSON)', Buffer.from(scan.stdout), secrets, scan_);
    scanBytes('scan stderr', Buffer.from(scan.stderr), secrets, scan_);
    scanBytes('report file', await readFile(reportFile), secrets, scan_);
    // The library (sidecars, compat files, previews, logs, state store); the config file is the user's own.
    await scanTree(setup.dir, secrets, scan_, { skip: (file) => file === setup.configFile });
    await scanTree(outDir, secrets, scan_);
    await scanTree(astroCache, secrets, scan_);
    // Anything the build wrote into the project folder (.astro/, Vite caches…).
    await scanTree(PROJECT_ROOT, secrets, scan_, {
      since,
      skip: (file) => file.startsWith(path.join(PROJECT_ROOT, '.git') + path.sep) || file.includes(`${path.sep}test${path.sep}`) || file.includes(`${path.sep}src${path.sep}`),
    });
    const logFiles = existsSync(path.join(setup.dir, 'logs')) ? await readdir(path.join(setup.dir, 'logs')) : [];
    const stateFiles = existsSync(setup.cacheDir) ? await readdir(setup.cacheDir) : [];
    figures('secrets', 'scanned for the sentinel keys', {
      files: scan_.files,
      megabytes: Math.round(scan_.bytes / 1e5) / 10,
      distFiles: existsSync(outDir) ? (await readdir(outDir, { recursive: true })).length : 0,
      encodingsPerKey: forms(SENTINEL_KEY).map((form) => form.name),
      logFiles,
      stateFiles,
      apiRequestsWithKey: requests.api,
      cdnRequestsWithoutKey: requests.cdn,
      leaks: scan_.leaks.length,
    });
    expect(logFiles.length, 'the log file was written').toBeGreaterThan(0);
    expect(scan_.leaks).toEqual([]);
    // The scan above covered a real site.
    expect(existsSync(path.join(outDir, 'index.html')), build.stderr.slice(-2000)).toBe(true);
    expect(existsSync(path.join(outDir, 'models'))).toBe(true);
  });

  it('an API redirect to another origin is not followed with the key; image URLs on other hosts never get it', async () => {
    // The "other host": records whatever reaches it.
    const seen: Array<{ url: string; authorization?: string }> = [];
    const attacker: Server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    // An API that redirects every call there.
    const redirector: Server = createServer((req, res) => {
      res.writeHead(302, { location: `${attackerOrigin}/stolen${req.url ?? ''}` });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirectBase = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/api/v1`;
    // A CivitAI whose image URLs point at the other host.
    const fixturesDir = await poisonedFixtures(path.join(ws.root, 'offsite-fixtures'), (object) => {
      if (typeof object.url === 'string' && /image(cache)?\.civitai\.com/.test(object.url)) object.url = `${attackerOrigin}/img/${encodeURIComponent(object.url)}.jpeg`;
    });
    const offsite = await startFakeCivitai({ library: ws.library, fixturesDir });
    try {
      const redirected = await copyLibrary(ws, 'redirect', { api: { ...fastApi(ws), base_url: redirectBase } });
      const first = await runScanJob({ config: redirected.config, job: redirected.job, jobName: redirected.name });
      expect(first.report.api.identified).toBe(0);
      expect(first.report.api.notFound).toBe(0);
      expect(first.report.errors.some((error) => error.stage === 'identify')).toBe(true);

      const images = await copyLibrary(ws, 'offsite-images', { api: { ...fastApi(ws), base_url: offsite.apiBaseUrl } });
      const second = await runScanJob({ config: images.config, job: images.job, jobName: images.name });
      expect(second.report.api.identified).toBeGreaterThan(0);
      const imageRequests = seen.filter((request) => request.url.startsWith('/img/'));
      expect(imageRequests.length).toBeGreaterThan(0);
      expect(seen.filter((request) => request.authorization !== undefined)).toEqual([]);
      expect(JSON.stringify(seen)).not.toContain(SENTINEL_KEY);
      for (const request of offsite.requests) if (request.path.startsWith('/api/')) expect(request.headers.authorization).toBe(`Bearer ${SENTINEL_KEY}`);
      figures('secrets', 'redirects and off-site images', {
        redirectsAnswered: first.report.api.requests,
        requestsReachingTheOtherOrigin: seen.length,
        offsiteImageRequests: imageRequests.length,
        withAuthorization: seen.filter((request) => request.authorization !== undefined).length,
      });
    } finally {
      await offsite.close();
      await new Promise<void>((resolve) => attacker.close(() => resolve()));
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
    }
  });
});
