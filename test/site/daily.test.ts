/**
 * The gallery as a daily tool, in Chromium: quick actions on cards (copied to the real clipboard
 * over HTTP), favourites, hidden models, your tags and notes kept in the browser with export and
 * import, keyboard paths (skip to results, collapsible facets, the A–Z bar), the phone drawer,
 * the image viewer's strip, the theme picker, the collapsible sidebar, long descriptions and
 * duplicates (a fixture library with copies).
 */
import { execFile } from 'node:child_process';
import { link, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../src/dev/browser.ts';
import { serveStatic } from '../../src/dev/static-server.ts';
import { buildDemoSite } from '../support/demo-site.ts';

let work: string;
let outDir: string;
let fixtureOut: string;
let browser: Browser;
let server: Server;
let origin: string;

const fileUrl = (dir: string, file: string) => pathToFileURL(path.join(dir, file)).href;
const ready = (page: Page) =>
  page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);


async function modelPage(prefix: string): Promise<string> {
  const id = (await readdir(path.join(outDir, 'models'))).find((name) => name.startsWith(prefix));
  if (!id) throw new Error(`no model page starting with ${prefix}`);
  return `models/${id}/index.html`;
}

describe.runIf(chromiumAvailable())('the gallery as a daily tool', () => {
  beforeAll(async () => {
    ({ work, outDir } = await buildDemoSite('cs-daily-'));
    // The demo build is shared with other suites: the fixture site goes in a folder of this file's.
    const dir = path.join(await mkdtemp(path.join(tmpdir(), 'cs-daily-fixture-')), 'fixture');
    await promisify(execFile)(process.execPath, ['test/site/fixture-site.ts', '--dir', dir, '--duplicates'], { maxBuffer: 64 * 1024 * 1024 });
    fixtureOut = path.join(dir, 'dist');
    browser = await launchChromium();
    server = await serveStatic(outDir);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** A desktop context over HTTP that may use the real clipboard. */
  async function httpContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    return context;
  }

  async function openGallery(context: BrowserContext, hash = ''): Promise<Page> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    (page as Page & { errors?: string[] }).errors = errors;
    await page.goto(`${origin}/index.html${hash}`);
    await ready(page);
    return page;
  }

  const card = (page: Page, name: string) => page.locator('#results .card').filter({ has: page.locator('.card-title', { hasText: name }) });
  const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

  it('copies a card’s usage line, trigger words and file path without opening the model page', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    const semi = card(page, 'Semi-realistic illustrious').filter({ hasText: 'v1.5' });
    await semi.getByRole('button', { name: 'Copy usage' }).click();
    await expect.poll(() => clipboard(page)).toBe('<lora:Semi-realistic illustrious v1.5:1>');
    const modelHtml = await readFile(path.join(outDir, await modelPage('semi-realistic-illustrious')), 'utf8');
    const triggers = [...modelHtml.matchAll(/class="chip chip-copy" data-copy="([^"]*)" title="Copy this trigger word"/g)].map((match) => match[1]);
    await semi.getByRole('button', { name: 'Copy trigger words' }).click();
    await expect.poll(() => clipboard(page)).toBe(triggers.join(', '));
    await semi.getByRole('button', { name: 'Copy path' }).click();
    await expect.poll(() => clipboard(page)).toBe(path.join(work, 'demo', 'library', 'Lora', 'Semi-realistic illustrious v1.5.safetensors'));
    // An embedding's usage is its name.
    await card(page, 'veryBadImageNegative').getByRole('button', { name: 'Copy usage' }).click();
    await expect.poll(() => clipboard(page)).toBe('verybadimagenegative_v1.3');
    // Still on the gallery, and reachable from the keyboard: Tab from the card's link.
    expect(new URL(page.url()).pathname).toBe('/index.html');
    await semi.locator('.card-link').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Copy usage');
    await page.keyboard.press('Enter');
    await expect.poll(() => clipboard(page)).toBe('<lora:Semi-realistic illustrious v1.5:1>');
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await context.close();
  });

  it('keeps favourites, hidden models, your tags, notes and weight in the browser; exports and imports them', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    const vivid = () => card(page, 'Vivid Impressions Storybook Style');
    const star = () => vivid().getByRole('button', { name: 'Favourite' });
    expect(await star().getAttribute('aria-pressed')).toBe('false');
    await star().click();
    expect(await star().getAttribute('aria-pressed')).toBe('true');
    await page.reload();
    await ready(page);
    expect(await star().getAttribute('aria-pressed')).toBe('true');
    // The Personal facet.
    const favourites = page.locator('.facet[data-facet="mine"] input[value="Favourites"]');
    await favourites.check();
    expect(await page.locator('#results .card-title').allTextContents()).toEqual(['Vivid Impressions Storybook Style']);
    await favourites.uncheck();

    // Hide: the card leaves the results until "Show hidden".
    const total = await page.locator('#results .card').count();
    await card(page, 'my own lora').getByRole('button', { name: 'Hide' }).click();
    expect(await page.locator('#results .card').count()).toBe(total - 1);
    expect(await page.locator('#status').textContent()).toContain('1 hidden');
    await page.locator('#show-hidden').check();
    expect(await page.locator('#results .card').count()).toBe(total);
    expect(await card(page, 'my own lora').getAttribute('class')).toContain('is-hidden');
    await page.locator('#show-hidden').uncheck();

    // Tags, notes and a preferred weight on the model page; the star is the same.
    const model = await context.newPage();
    await model.goto(`${origin}/${await modelPage('vivid-impressions')}`);
    const favourite = model.getByRole('button', { name: 'Favourite' });
    expect(await favourite.getAttribute('aria-pressed')).toBe('true');
    await model.locator('#tag-input').fill('storybook, watercolour');
    await model.getByRole('button', { name: 'Add tag' }).click();
    expect(await model.locator('#my-tags .chip span').allTextContents()).toEqual(['storybook', 'watercolour']);
    await model.locator('#note-input').fill('Best at 0.7 with a painterly checkpoint.');
    await model.locator('#weight-input').fill('0.7');
    await model.locator('#weight-input').press('Enter');
    await model.locator('#weight-input').blur();
    await expect.poll(() => model.locator('#usage-line').textContent()).toMatch(/^<lora:.+:0\.7>$/);
    await model.close();
    // The gallery (another tab) follows: your tags facet, and the weight in the copied usage line.
    await expect.poll(() => page.locator('.facet[data-facet="mytag"] input[value="watercolour"]').count()).toBe(1);
    await page.locator('.facet[data-facet="mine"] input[value="With notes"]').check();
    expect(await page.locator('#results .card-title').allTextContents()).toEqual(['Vivid Impressions Storybook Style']);
    await vivid().getByRole('button', { name: 'Copy usage' }).click();
    await expect.poll(() => clipboard(page)).toMatch(/:0\.7>$/);
    await page.locator('.facet[data-facet="mine"] input[value="With notes"]').uncheck();

    // Export → clear → import.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const exported = JSON.parse(await readFile((await download.path()) as string, 'utf8'));
    expect(exported.format).toBe('civitscraper-personal');
    const entries = Object.values(exported.models) as Record<string, unknown>[];
    expect(entries).toHaveLength(2);
    expect(entries.find((entry) => entry.favourite)).toMatchObject({
      name: 'Vivid Impressions Storybook Style',
      tags: ['storybook', 'watercolour'],
      note: 'Best at 0.7 with a painterly checkpoint.',
      weight: 0.7,
    });
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await ready(page);
    expect(await star().getAttribute('aria-pressed')).toBe('false');
    expect(await page.locator('#results .card').count()).toBe(total);
    await page.locator('#personal-file').setInputFiles((await download.path()) as string);
    await expect.poll(() => star().getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('#results .card').count()).toBe(total - 1);
    expect(await page.locator('#personal-status').textContent()).toBe('Imported 2 models.');
    // A file that is not ours changes nothing.
    await page.locator('#personal-file').setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: Buffer.from('{"models":{"a":{"favourite":true}}}') });
    await expect.poll(() => page.locator('#personal-status').textContent()).toContain('Nothing imported');
    await context.close();
  });

  it('skips to the first card in a few key presses; facet groups fold with a button', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    await page.locator('body').focus();
    let presses = 0;
    await page.keyboard.press('Tab');
    presses++;
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to results');
    await page.keyboard.press('Enter');
    presses++;
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('card-link');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(
      (await page.locator('#results .card-title').first().textContent())?.trim(),
    );
    expect(presses).toBeLessThanOrEqual(3);

    const toggle = page.locator('.facet[data-facet="type"] .facet-toggle');
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    await toggle.focus();
    await page.keyboard.press('Enter');
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await page.locator('.facet[data-facet="type"] .facet-values').isVisible()).toBe(false);
    await page.reload();
    await ready(page);
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    expect(await page.locator('.facet[data-facet="type"] .facet-values').isVisible()).toBe(true);

    // A value the other filters leave without a model stays listed, greyed and disabled.
    await page.locator('.facet[data-facet="type"] input[value="Checkpoint"]').check();
    const sd15 = page.locator('.facet[data-facet="base"] li').filter({ has: page.locator('input[value="Hunyuan Video"]') });
    expect(await sd15.locator('.facet-count').textContent()).toBe('0');
    expect(await sd15.locator('input').isDisabled()).toBe(true);
    expect(await sd15.getAttribute('class')).toContain('empty-value');
    await page.locator('.facet[data-facet="type"] input[value="Checkpoint"]').uncheck();
    expect(await sd15.locator('input').isDisabled()).toBe(false);

    // The sort direction button says which way it sorts.
    expect(await page.getByRole('button', { name: 'Sort order: ascending' }).count()).toBe(1);
    await page.locator('#dir').click();
    expect(await page.getByRole('button', { name: 'Sort order: descending' }).count()).toBe(1);
    await context.close();
  });

  it('jumps to a letter when sorted by name, and shows the sorted value on cards', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    const jump = page.locator('#jump');
    expect(await jump.isVisible()).toBe(true);
    expect(await jump.locator('button:not([disabled])').allTextContents()).toEqual(['C', 'H', 'M', 'S', 'T', 'V']);
    await jump.getByRole('button', { name: 'Names starting with S' }).click();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toMatch(/^S/);
    // One tab stop; arrows move along the letters.
    await jump.getByRole('button', { name: 'Names starting with S' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('T');
    expect(await jump.locator('button[tabindex="0"]').count()).toBe(1);

    await page.locator('#sort').selectOption('size');
    expect(await jump.isVisible()).toBe(false);
    const first = page.locator('#results .card').first();
    expect(await first.locator('.fact-size').isVisible()).toBe(true);
    expect(await first.locator('.fact-added').isVisible()).toBe(false);
    await page.locator('#sort').selectOption('added');
    expect(await first.locator('.fact-added').isVisible()).toBe(true);
    expect(await first.locator('.fact-added dd').textContent()).toMatch(/^\d{4}-\d\d-\d\d$/);
    await context.close();
  });

  it('folds the desktop sidebar away and remembers it; the theme picker is remembered too', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    const toggle = page.locator('#filters-toggle');
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await page.locator('#filters').isVisible()).toBe(false);
    const width = (await page.locator('#results').boundingBox())!.width;
    await page.reload();
    await ready(page);
    expect(await page.locator('#filters').isVisible()).toBe(false);
    expect((await page.locator('#results').boundingBox())!.width).toBe(width);
    await toggle.click();
    expect(await page.locator('#filters').isVisible()).toBe(true);

    const background = (target: Page) => target.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background(page);
    await page.getByLabel('Colour theme').selectOption('dark');
    expect(await page.evaluate(() => document.documentElement.getAttribute('data-theme'))).toBe('dark');
    const dark = await background(page);
    expect(dark).not.toBe(light);
    await page.reload();
    await ready(page);
    expect(await background(page)).toBe(dark);
    const model = await context.newPage();
    await model.emulateMedia({ colorScheme: 'light' });
    await model.goto(`${origin}/list/index.html`);
    expect(await background(model)).toBe(dark);
    expect(await model.getByLabel('Colour theme').inputValue()).toBe('dark');
    await model.getByLabel('Colour theme').selectOption('system');
    expect(await background(model)).toBe(light);
    await model.emulateMedia({ colorScheme: 'dark' });
    expect(await background(model)).toBe(dark);
    await context.close();
  });

  it('on a phone the filter drawer has a backdrop, keeps the focus, and closes with Escape', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await page.goto(fileUrl(outDir, 'index.html'));
    await ready(page);
    const toggle = page.locator('#filters-toggle');
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(true);
    expect(await page.locator('#filters-backdrop').isVisible()).toBe(true);
    expect(await page.locator('#filters').getAttribute('aria-modal')).toBe('true');
    // Focus stays in the drawer, however far you Tab (both ways).
    for (let step = 0; step < 60; step++) {
      await page.keyboard.press(step < 40 ? 'Tab' : 'Shift+Tab');
      expect(await page.evaluate(() => document.getElementById('filters')?.contains(document.activeElement)), `Tab ${step}`).toBe(true);
    }
    // A tap on the backdrop, right over a card (beside the drawer), closes the drawer and opens nothing.
    const box = (await page.locator('#results .card').nth(1).boundingBox())!;
    const drawer = (await page.locator('#filters').boundingBox())!;
    const x = box.x + box.width - 10;
    expect(x).toBeGreaterThan(drawer.x + drawer.width);
    const before = page.url();
    await page.touchscreen.tap(x, box.y + box.height / 2);
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(false);
    expect(page.url()).toBe(before);
    expect(await page.locator('#filters-backdrop').isVisible()).toBe(false);
    // Escape closes it too, and the focus goes back to the button.
    await toggle.click();
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('filters-toggle');
    expect(await page.locator('.gallery-main').getAttribute('inert')).toBeNull();
    await phone.close();
  });

  it('the image viewer has a strip of every image, a full-screen button and key hints; focus stays in it after a copy', async () => {
    // No clipboard permission: copying falls back to a selection inside the viewer.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(fileUrl(outDir, await modelPage('hyphoria')));
    await page.locator('#shots .shot-link').first().click();
    const dialog = page.locator('#lightbox');
    await expect.poll(() => dialog.evaluate((node: HTMLDialogElement) => node.open)).toBe(true);
    const strip = page.locator('#lb-strip button');
    expect(await strip.count()).toBe(4);
    expect(await strip.first().getAttribute('aria-current')).toBe('true');
    await strip.nth(2).click();
    expect(await page.locator('#lb-counter').textContent()).toBe('3 / 4');
    expect(await strip.nth(2).getAttribute('aria-current')).toBe('true');
    expect(await strip.first().getAttribute('aria-current')).toBeNull();
    await page.keyboard.press('ArrowRight');
    expect(await strip.nth(3).getAttribute('aria-current')).toBe('true');
    expect(await page.getByRole('button', { name: 'Full screen' }).isVisible()).toBe(true);
    expect(await page.locator('#lb-keys').textContent()).toContain('full screen');
    await page.locator('#lb-info .copy-button').first().click();
    expect(await page.evaluate(() => document.getElementById('lightbox')?.contains(document.activeElement))).toBe(true);
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('#lb-counter').textContent()).toBe('3 / 4');
    await page.keyboard.press('Escape');

    // The demo's videos are real clips: the viewer plays them.
    const videoPage = await modelPage('cafe-n');
    await page.goto(fileUrl(outDir, videoPage));
    await page.locator('#shots .shot-link').first().click();
    await expect.poll(() => page.locator('#lb-stage video').evaluate((video: HTMLVideoElement) => video.readyState)).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#lb-stage video').evaluate((video: HTMLVideoElement) => [video.videoWidth > 0, video.error])).toEqual([true, null]);
    expect(await page.locator('#lb-stage .lb-unplayable').count()).toBe(0);

    // A video this browser cannot play says so, with the file to open instead. The built file is
    // a hard link to the library's preview, and the site is shared with other suites: the broken
    // copy comes in by a rename and the clip goes back afterwards.
    const clip = path.join(outDir, path.dirname(videoPage), 'preview-1.mp4');
    await link(clip, `${clip}.kept`);
    try {
      await writeFile(`${clip}.broken`, Buffer.concat([(await readFile(clip)).subarray(0, 64), Buffer.alloc(4096, 0x5a)]));
      await rename(`${clip}.broken`, clip);
      await page.goto(fileUrl(outDir, videoPage));
      await page.locator('#shots .shot-link').first().click();
      await expect.poll(() => page.locator('#lb-stage .lb-unplayable').count()).toBe(1);
      expect(await page.locator('#lb-stage .lb-unplayable').textContent()).toContain('cannot be played');
      expect(await page.locator('#lb-stage .lb-unplayable a').getAttribute('href')).toBe('preview-1.mp4');
    } finally {
      await rename(`${clip}.kept`, clip);
    }
    await context.close();
  });

  it('keeps words whole in names, folding only a word that cannot fit', async () => {
    /**
     * Letters of a word split over two lines although the word (up to the next space) would fit
     * on one. A break at a hyphen or a slash is not a split; a word wider than its box may break.
     */
    const splitWords = (page: Page, selector: string) =>
      page.locator(selector).evaluateAll((nodes) =>
        nodes.flatMap((element) => {
          const width = element.getBoundingClientRect().width;
          const out: string[] = [];
          const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const token of (node.textContent ?? '').matchAll(/\S+/g)) {
              // The token's width on one line, in the element's font.
              const probe = document.createElement('span');
              probe.style.whiteSpace = 'nowrap';
              probe.style.position = 'absolute';
              probe.textContent = token[0];
              (node.parentElement ?? element).appendChild(probe);
              const fits = probe.getBoundingClientRect().width <= width;
              probe.remove();
              if (!fits) continue;
              for (const letters of token[0].matchAll(/[\p{L}\p{N}]+/gu)) {
                const range = document.createRange();
                range.setStart(node, token.index + letters.index);
                range.setEnd(node, token.index + letters.index + letters[0].length);
                const rows = new Set([...range.getClientRects()].filter((rect) => rect.width > 0).map((rect) => Math.round(rect.top)));
                if (rows.size > 1) out.push(letters[0]);
              }
            }
          }
          return out;
        }),
      );
    for (const width of [390, 1280]) {
      const context = await browser.newContext({ viewport: { width, height: 844 } });
      const page = await context.newPage();
      for (const view of ['', '#view=list', '#view=large']) {
        await page.goto(fileUrl(outDir, 'index.html') + view);
        await ready(page);
        expect(await splitWords(page, '.brand, #results .card-title, #results .card-version, #results .card-creator'), `${width} ${view}`).toEqual([]);
      }
      await page.goto(fileUrl(outDir, await modelPage('hyphoria')));
      expect(await splitWords(page, 'h1, .version-name, .version-title, .details-grid dd'), `${width} model page`).toEqual([]);
      // Long names full of punctuation (the fixture's script payloads).
      await page.goto(`${fileUrl(fixtureOut, 'index.html')}#view=list`);
      await ready(page);
      expect(await splitWords(page, '.brand, #results .card-title, #results .card-version, #results .card-creator'), `${width} fixture`).toEqual([]);
      await context.close();
    }
  });

  it('folds a long description behind “Show more” and demotes its headings', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const id = (await readdir(path.join(fixtureOut, 'models'))).find((name) => name.startsWith('img-src-x-onerror')) as string;
    await page.goto(fileUrl(fixtureOut, `models/${id}/index.html`));
    const more = page.getByRole('button', { name: 'Show more' });
    expect(await more.getAttribute('aria-expanded')).toBe('false');
    const body = page.locator('#description-body');
    const folded = (await body.boundingBox())!.height;
    await more.click();
    expect(await page.getByRole('button', { name: 'Show less' }).getAttribute('aria-expanded')).toBe('true');
    expect((await body.boundingBox())!.height).toBeGreaterThan(folded * 1.5);
    // The page's h1 is the only one; the description's start below its h2; none is empty.
    expect(await page.locator('h1').count()).toBe(1);
    expect(await page.locator('.description h1, .description h2').count()).toBe(0);
    expect(await page.locator('.description h3').allTextContents()).toEqual(['Usage guide']);
    expect(await page.locator('.description h4').allTextContents()).toEqual(['Settings']);
    const empty = await page.locator('h1, h2, h3, h4, h5, h6').evaluateAll((nodes) => nodes.filter((node) => !node.textContent?.trim()).length);
    expect(empty).toBe(0);
    await context.close();
  });

  it('ships the browser scripts minified, as classic scripts beside the stylesheet', async () => {
    const sources = path.join(process.cwd(), 'src', 'components', 'client');
    for (const page of ['index.html', await modelPage('hyphoria'), 'list/index.html']) {
      const html = await readFile(path.join(outDir, page), 'utf8');
      const scripts = [...html.matchAll(/<script src="((?:\.\.?\/)*_astro\/(common|gallery-core|gallery|model|theme)-[\w-]+\.js)"><\/script>/g)];
      expect(scripts.length, page).toBeGreaterThan(0);
      expect(html, page).not.toContain('type="module"');
      for (const [, src, name] of scripts) {
        const shipped = await readFile(path.join(path.dirname(path.join(outDir, page)), src as string), 'utf8');
        const source = await readFile(path.join(sources, `${name}.js`), 'utf8');
        expect(shipped.length, `${name} in ${page}`).toBeLessThan(source.length * 0.7);
        expect(shipped, name).not.toMatch(/^\s*\/\*|\n\s*\/\/ /);
        expect(shipped, name).not.toMatch(/^\s*(import|export)\s/m);
      }
    }
  });

  it('marks duplicates — the same bytes, or the same CivitAI version — with a badge and a facet', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(fileUrl(fixtureOut, 'index.html'));
    await ready(page);
    const count = async (value: string) =>
      Number(await page.locator('.facet[data-facet="dupes"] label').filter({ has: page.locator(`input[value="${value}"]`) }).locator('.facet-count').textContent());
    expect(await count('Identical file')).toBe(2);
    expect(await count('Same CivitAI version')).toBe(3);
    expect(await page.locator('#results .badge-dup').count()).toBe(3);
    await page.locator('.facet[data-facet="dupes"] input[value="Identical file"]').check();
    const names = await page.locator('#results .card').evaluateAll((cards) => cards.map((node) => node.getAttribute('data-id')));
    expect(names).toHaveLength(2);
    expect(names.some((id) => id?.startsWith('identical-copy-'))).toBe(true);
    // The model page links the copies.
    const copy = (await readdir(path.join(fixtureOut, 'models'))).find((name) => name.startsWith('identical-copy-')) as string;
    await page.goto(fileUrl(fixtureOut, `models/${copy}/index.html`));
    expect(await page.locator('.duplicates dt').allTextContents()).toEqual(['Identical files (same SHA-256)', 'Other files of this CivitAI version']);
    expect(await page.locator('.duplicates a').count()).toBe(2);
    expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
    await context.close();
  });
});
