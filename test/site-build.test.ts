/**
 * End to end: the demo (sample library + fake CivitAI + engine + Astro build) into a temporary
 * folder, then the built pages checked as files and in Chromium from file://.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../src/dev/browser.ts';
import type { SampleLibrary } from '../src/dev/sample-library/index.ts';
import { buildDemoSite } from './support/demo-site.ts';

const run = promisify(execFile);
let work: string;
let outDir: string;
let library: SampleLibrary;

beforeAll(async () => {
  ({ work, outDir, library } = await buildDemoSite('cs-site-'));
});

const pageIds = async () => (await readdir(path.join(outDir, 'models'))).sort();

describe('the built demo site', () => {
  it('has a gallery and one page per readable model file', async () => {
    const readable = library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');
    const ids = await pageIds();
    expect(ids).toHaveLength(readable.length);
    const gallery = await readFile(path.join(outDir, 'index.html'), 'utf8');
    expect(gallery).toContain('CivitScraper demo library');
    for (const id of ids) {
      expect(gallery).toContain(`models/${id}/index.html`);
      expect(existsSync(path.join(outDir, 'models', id, 'index.html'))).toBe(true);
    }
    // Three files are not on CivitAI: they still get a card and a page, marked as such.
    expect(gallery.match(/not on CivitAI/g)).toHaveLength(3);
  });

  it('model pages show name, creator, type, base model, trigger words, description, images and path', async () => {
    const id = (await pageIds()).find((candidate) => candidate.startsWith('semi-realistic-illustrious'));
    const html = await readFile(path.join(outDir, 'models', id as string, 'index.html'), 'utf8');
    expect(html).toContain('<h1>Semi-realistic illustrious</h1>');
    expect(html).toMatch(/by alericiviai/);
    expect(html).toContain('LORA');
    expect(html).toContain('Illustrious');
    expect(html).toContain('Trigger words');
    expect(html).toContain('Description');
    expect(html).toMatch(/<img src="\.\.\/\.\.\/thumbs\/semi-realistic-illustrious-v1-5-[0-9a-f]{10}\.webp"/);
    expect(html).toContain(path.join(work, 'demo', 'library', 'Lora', 'Semi-realistic illustrious v1.5.safetensors'));
    // Scripts are classic external files (file:// refuses module scripts) or JSON data: no inline
    // script, so no record text can ever be executed.
    expect(html).not.toMatch(/<script(?![^>]*(?:type="application\/json"|src="(?:\.\.\/)*_astro\/[^"]+\.js"))/);
    expect(html).not.toMatch(/type="module"/);
  });

  it('uses only relative URLs, so dist/ works from disk and under any path', async () => {
    for (const file of ['index.html', ...(await pageIds()).map((id) => `models/${id}/index.html`)]) {
      const html = await readFile(path.join(outDir, file), 'utf8');
      expect(html, file).not.toMatch(/\s(?:src|href|srcset)="\/(?!\/)/);
    }
  });

  it('has a stats page whose figures match the library, and a problems page naming every unreadable file', async () => {
    const readable = library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');
    const stats = await readFile(path.join(outDir, 'stats', 'index.html'), 'utf8');
    const figure = (label: string) => new RegExp(`<dt[^>]*>${label}</dt><dd[^>]*>(?:<a[^>]*>)?([^<]+)<`).exec(stats)?.[1];
    expect(figure('Model files')).toBe(String(readable.length));
    expect(figure('Not identified')).toBe(String(library.entries.filter((entry) => entry.kind === 'unknown').length));
    expect(figure('Problems')).toBe(String(library.entries.length - readable.length));
    expect(stats).toContain('Models by type');
    expect(stats.match(/<svg class="bars"/g)?.length).toBe(4);
    const problems = await readFile(path.join(outDir, 'problems', 'index.html'), 'utf8');
    for (const entry of library.entries.filter((candidate) => !readable.includes(candidate))) {
      expect(problems).toContain(path.basename(entry.relativePath).replaceAll('&', '&amp;'));
    }
    expect(problems).toContain('empty file (0 bytes)');
    expect(problems).toContain('broken symlink');
  });

  it.runIf(chromiumAvailable())('renders from file:// in Chromium with every thumbnail loaded', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (request) => failed.push(request.url()));
      await page.goto(pathToFileURL(path.join(outDir, 'index.html')).href);
      const cards = await page.locator('.card').count();
      expect(cards).toBe((await pageIds()).length);
      const broken = await page.evaluate(() =>
        [...document.images].filter((image) => !image.complete || image.naturalWidth === 0).map((image) => image.src),
      );
      expect(broken).toEqual([]);
      await page.locator('.card a').first().click();
      await expect.poll(() => page.url()).toMatch(/\/models\/[^/]+\/index\.html$/);
      expect(await page.locator('h1').textContent()).toBeTruthy();
      expect(failed).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe('npm run build', () => {
  it.skipIf(existsSync('civitscraper.yaml'))('with no config anywhere, names the places it looked and points at npm run demo', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'cs-home-'));
    const env = { ...process.env, HOME: home, CIVITSCRAPER_CONFIG: '' };
    const failure = await run(process.execPath, ['node_modules/astro/bin/astro.mjs', 'build', '--outDir', path.join(home, 'dist')], { env }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure?.code).not.toBe(0);
    const output = `${failure?.stdout}${failure?.stderr}`;
    expect(output).toContain(path.join(home, '.config', 'civitscraper', 'config.yaml'));
    expect(output).toContain(path.resolve('civitscraper.yaml'));
    expect(output).toContain('npm run demo');
  });
});
