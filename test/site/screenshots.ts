/**
 * Pictures of the built demo for docs/ (gallery grid, list view, model page, image viewer,
 * phone), light and dark, taken in Chromium from the files on disk.
 *
 *   node src/dev/demo.ts && node test/site/screenshots.ts [--dist dist] [--docs docs]
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchChromium } from '../../src/dev/browser.ts';

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { values } = parseArgs({ options: { dist: { type: 'string' }, docs: { type: 'string' } } });
const dist = path.resolve(values.dist ?? path.join(root, 'demo', 'site'));
const docs = path.resolve(values.docs ?? path.join(root, 'docs'));
await mkdir(docs, { recursive: true });

const ready = (page: Page) =>
  page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
const settle = async (page: Page) => {
  // Images in view (lazy ones further down never load, so never wait for those).
  await page.evaluate(async () => {
    const inView = [...document.images].filter((image) => !image.complete && image.getBoundingClientRect().top < innerHeight);
    const loaded = Promise.all(inView.map((image) => new Promise((done) => { image.addEventListener('load', done, { once: true }); image.addEventListener('error', done, { once: true }); })));
    await Promise.race([loaded, new Promise((done) => setTimeout(done, 3000))]);
  });
  await page.waitForTimeout(200);
};

const models = await readdir(path.join(dist, 'models'));
const modelId = models.find((id) => id.startsWith('hyphoria')) ?? models[0];
const browser = await launchChromium();
const written: string[] = [];
try {
  for (const scheme of ['light', 'dark'] as const) {
    const shot = async (name: string, page: Page, fullPage = false) => {
      const file = path.join(docs, `${name}-${scheme}.png`);
      await settle(page);
      await page.screenshot({ path: file, fullPage });
      written.push(file);
    };
    const desktop = await browser.newContext({ viewport: { width: 1360, height: 880 }, colorScheme: scheme, deviceScaleFactor: 1 });
    const page = await desktop.newPage();
    await page.goto(pathToFileURL(path.join(dist, 'index.html')).href);
    await ready(page);
    await shot('gallery-grid', page);
    await page.goto(`${pathToFileURL(path.join(dist, 'index.html')).href}#type=LORA&sort=downloads&view=list`);
    await ready(page);
    await shot('gallery-list', page);
    await page.goto(pathToFileURL(path.join(dist, 'models', modelId as string, 'index.html')).href);
    await shot('model-page', page, true);
    await page.locator('#shots .shot-link').first().click();
    await page.waitForTimeout(300);
    await shot('lightbox', page);
    await desktop.close();

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: scheme, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const mobile = await phone.newPage();
    await mobile.goto(pathToFileURL(path.join(dist, 'index.html')).href);
    await ready(mobile);
    await shot('phone-gallery', mobile);
    await mobile.goto(pathToFileURL(path.join(dist, 'models', modelId as string, 'index.html')).href);
    await shot('phone-model-page', mobile);
    await phone.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(`${written.map((file) => path.relative(root, file)).join('\n')}\n`);
