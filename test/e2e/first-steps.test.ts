/**
 * A newcomer's first steps, as the README and the demo's own output give them: `npm run demo`,
 * then every `npm run …` it suggests (`npm run preview`, `npm run dev`), each run as the user
 * would run it in this checkout, with no step in between. The demo writes only under demo/
 * (ignored by git), as it does for a user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** The project's Node first on PATH, as `npm run` sets it for its scripts. */
const ENV = { ...process.env, PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', FORCE_COLOR: '0' };
// A user's shell has none of these. Under VITEST, astro dev leaves its page routes out and answers
// every page with "Cannot GET /"; NODE_ENV=test is vitest's too.
for (const name of Object.keys(ENV)) if (name.startsWith('VITEST') || name === 'NODE_ENV' || name === 'CIVITSCRAPER_CONFIG') delete (ENV as Record<string, string | undefined>)[name];

interface Running {
  child: ChildProcess;
  output: () => string;
}

const running: Running[] = [];

/** Starts `npm run <script> [-- args]` in its own process group (so a stop reaches astro too). */
function start(script: string, args: string[] = []): Running {
  const child = spawn(NPM, ['run', script, ...(args.length ? ['--', ...args] : [])], { cwd: ROOT, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const handle = { child, output: () => text };
  running.push(handle);
  return handle;
}

async function stop(handle: Running): Promise<void> {
  if (handle.child.exitCode !== null || handle.child.signalCode !== null) return;
  const exited = once(handle.child, 'exit');
  try {
    process.kill(-(handle.child.pid as number), 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-(handle.child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * GETs a page once the server has printed the address it serves (as a user opens it then); fails
 * with the command's output if it never does.
 */
async function fetchWhenUp(handle: Running, url: string, attempts = 240): Promise<{ status: number; body: string }> {
  const origin = new URL(url).origin;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (handle.child.exitCode !== null) throw new Error(`the command exited (${handle.child.exitCode}) before serving ${url}:\n${handle.output()}`);
    if (!handle.output().includes(`${origin}/`)) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      return { status: response.status, body: await response.text() };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  throw new Error(`nothing answered at ${url}:\n${handle.output()}`);
}

let suggested: string[] = [];
let modelPage = '';

describe('first steps: npm run demo, then what it suggests', () => {
  afterEach(async () => {
    for (const handle of running.splice(0)) await stop(handle);
  });

  beforeAll(async () => {
    const demo = start('demo');
    const [code] = (await once(demo.child, 'exit')) as [number | null];
    expect(code, demo.output()).toBe(0);
    // What the demo itself says once it is done (npm's own `> npm run compile` echo is not a suggestion).
    const said = demo.output().slice(demo.output().indexOf('Demo built.'));
    suggested = [...new Set([...said.matchAll(/\bnpm run ([a-z:-]+)/g)].map((match) => match[1] as string))];
    const models = await readdir(path.join(ROOT, 'demo', 'site', 'models'));
    expect(models.length).toBeGreaterThan(5);
    modelPage = `/models/${models.sort()[0]}/`;
  }, 300_000);

  it('the demo suggests serving and live browsing, and nothing else', () => {
    expect(suggested.sort()).toEqual(['dev', 'preview']);
  });

  it('`npm run preview` serves the built gallery, a model page and the site\'s own page, with no config', async () => {
    const port = await freePort();
    const preview = start('preview', ['--host', '127.0.0.1', '--port', String(port)]);
    const gallery = await fetchWhenUp(preview, `http://127.0.0.1:${port}/`);
    expect(gallery.status).toBe(200);
    expect(gallery.body).toContain('<h1');
    expect(gallery.body).toMatch(/Hyphoria/i);
    expect((await fetchWhenUp(preview, `http://127.0.0.1:${port}${modelPage}`)).status).toBe(200);
    expect((await fetchWhenUp(preview, `http://127.0.0.1:${port}/about/`)).status).toBe(200);
    expect(preview.output()).not.toMatch(/No CivitScraper config|npm run demo again/i);
  });

  it('`npm run dev` runs the demo library live (fake API included) and serves the gallery and a model page', async () => {
    const port = await freePort();
    const dev = start('dev', ['--host', '127.0.0.1', '--port', String(port)]);
    const gallery = await fetchWhenUp(dev, `http://127.0.0.1:${port}/`);
    expect(gallery.status, `${gallery.body.slice(0, 2000)}\n${dev.output()}`).toBe(200);
    expect(gallery.body).toMatch(/Hyphoria/i);
    const page = await fetchWhenUp(dev, `http://127.0.0.1:${port}${modelPage}`);
    expect(page.status, dev.output()).toBe(200);
    expect(dev.output()).toMatch(/fake CivitAI: http:\/\/127\.0\.0\.1:\d+/);
    expect(dev.output()).not.toMatch(/No CivitScraper config|npm run demo again/i);
  });
});
