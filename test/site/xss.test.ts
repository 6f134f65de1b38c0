/**
 * A library whose model name, description, type, base model, tags, creator, trigger words,
 * version names, image prompts, file names, folders, input path type and gallery title all carry
 * script payloads: every page renders them as text and no script runs (checked in Chromium).
 * The same build checks `sfw_only`, `gallery_path` and the page without model pages.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../src/dev/browser.ts';
import { PAYLOADS } from './fixture-site.ts';

const run = promisify(execFile);
let work: string;
let browser: Browser;

async function build(name: string, ...flags: string[]): Promise<string> {
  const dir = path.join(work, name);
  await run(process.execPath, ['test/site/fixture-site.ts', '--dir', dir, ...flags], { maxBuffer: 64 * 1024 * 1024 });
  return path.join(dir, 'dist');
}

/** Visits a page and runs `act`; returns what would show that a payload ran. */
async function visit(file: string, act: (page: Page) => Promise<void> = async () => undefined) {
  const page = await browser.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(pathToFileURL(file).href);
  await act(page);
  await page.waitForTimeout(150);
  const ran = await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss);
  const text = await page.evaluate(() => document.body.innerText);
  await page.close();
  return { ran, dialogs, errors, text };
}

describe.runIf(chromiumAvailable())('script payloads in every field', () => {
  let outDir: string;
  let pages: string[];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'cs-xss-'));
    outDir = await build('site', '--gallery-path', path.join(work, 'bookmark', 'gallery.html'));
    pages = (await readdir(path.join(outDir, 'models'))).sort();
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('built a page for each poisoned file', () => {
    expect(pages).toHaveLength(4);
  });

  it('the gallery shows them as text and runs none of them, whatever the user does', async () => {
    const result = await visit(path.join(outDir, 'index.html'), async (page) => {
      await page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
      await page.locator('#q').fill('script');
      await page.locator('#q').fill('');
      for (const facet of ['tag', 'base', 'type', 'creator', 'folder']) {
        const box = page.locator(`.facet[data-facet="${facet}"] input`).first();
        if (await box.count()) {
          await box.check();
          await box.uncheck();
        }
      }
      await page.locator('#group').check();
      for (const view of ['Large', 'List', 'Grid']) await page.getByRole('button', { name: view, exact: true }).click();
      await page.locator('#results .card-versions summary').first().click().catch(() => undefined);
      await page.locator('#results .card').first().hover();
    });
    expect(result.ran).toBeUndefined();
    expect(result.dialogs).toEqual([]);
    expect(result.errors).toEqual([]);
    expect(result.text).toContain(`Poisoned ${PAYLOADS.script} model ${PAYLOADS.img}`);
    expect(result.text).toContain(`by ${PAYLOADS.img}`);
  });

  it('model pages show them as text, sanitize the description, and run none of them', async () => {
    for (const id of pages) {
      const file = path.join(outDir, 'models', id, 'index.html');
      const result = await visit(file, async (page) => {
        for (const button of await page.locator('[data-copy]').all()) if (await button.isVisible()) await button.click();
        const shot = page.locator('#shots .shot-link').first();
        if (await shot.count()) {
          await page.locator('.reveal').first().click().catch(() => undefined);
          await shot.click({ force: true });
          await page.keyboard.press('ArrowRight');
          await page.keyboard.press('ArrowRight');
          for (const button of await page.locator('#lb-info [data-copy]').all()) await button.click();
          await page.keyboard.press('Escape');
        }
        for (const link of await page.locator('.description a').all()) await link.hover();
        for (const details of await page.locator('details').all()) await details.evaluate((node: HTMLDetailsElement) => (node.open = true));
      });
      expect(result.ran, id).toBeUndefined();
      expect(result.dialogs, id).toEqual([]);
      expect(result.errors, id).toEqual([]);

      const html = await readFile(file, 'utf8');
      const description = /<div class="description">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? '';
      expect(description, id).not.toMatch(/<(script|iframe|form|svg|math|style)/i);
      expect(description, id).not.toMatch(/\son[a-z]+=|javascript:|style=/i);
      for (const anchor of description.match(/<a [^>]*>/g) ?? []) expect(anchor).toMatch(/rel="noopener noreferrer nofollow"/);
    }
    const identified = pages.find((id) => id.startsWith('img-src-x-onerror')) as string;
    const { text } = await visit(path.join(outDir, 'models', identified, 'index.html'));
    for (const shown of [PAYLOADS.script, PAYLOADS.img, PAYLOADS.attribute]) expect(text).toContain(shown);
  });

  it('the plain list shows them as text and runs none of them', async () => {
    const result = await visit(path.join(outDir, 'list', 'index.html'));
    expect(result.ran).toBeUndefined();
    expect(result.dialogs).toEqual([]);
    expect(result.text).toContain(PAYLOADS.script);
  });

  it('the page at the seed’s gallery path opens the copied site and keeps a bookmarked state', async () => {
    const bookmark = path.join(work, 'bookmark', 'gallery.html');
    expect(existsSync(path.join(work, 'bookmark', 'gallery-site', 'index.html'))).toBe(true);
    expect(existsSync(path.join(work, 'bookmark', 'gallery-site', '.civitscraper-site'))).toBe(true);
    const page = await browser.newPage();
    await page.goto(`${pathToFileURL(bookmark).href}#view=list`);
    await page.waitForURL(/gallery-site\/index\.html#view=list$/);
    await page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
    expect(await page.locator('[data-view="list"]').getAttribute('aria-pressed')).toBe('true');
    expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
    await page.close();
  });

  it('an SFW-only build leaves NSFW images out, and a build without model pages links to CivitAI', async () => {
    const sfw = await build('sfw', '--sfw-only');
    const html = await readFile(path.join(sfw, 'models', pages.find((id) => id.startsWith('img-src-x-onerror')) as string, 'index.html'), 'utf8');
    expect(html.match(/class="shot"/g)).toHaveLength(1);
    expect(html).not.toContain('blurred');

    const noPages = await build('no-pages', '--no-pages');
    expect(existsSync(path.join(noPages, 'models'))).toBe(false);
    const result = await visit(path.join(noPages, 'index.html'), async (page) => {
      await page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
      const hrefs = await page.locator('#results .card-link').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('href')));
      expect(hrefs.filter(Boolean).every((href) => href?.startsWith('https://civitai.com/models/880001?modelVersionId='))).toBe(true);
      expect(hrefs.filter(Boolean)).toHaveLength(2);
    });
    expect(result.ran).toBeUndefined();
  });
});
