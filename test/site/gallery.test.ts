/**
 * The built demo site in Chromium, opened from file:// like a user opening dist/index.html:
 * facets, search, sorts, views, grouping, URL state, NSFW blur, the image viewer and copy
 * buttons, keyboard use, and the page without JavaScript.
 */
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../src/dev/browser.ts';
import type { SampleLibrary } from '../../src/dev/sample-library/index.ts';
import { buildDemoSite } from '../support/demo-site.ts';

let work: string;
let outDir: string;
let library: SampleLibrary;
let browser: Browser;
let context: BrowserContext;

interface CoreIndex {
  n: number;
  d: Record<string, string[]>;
  c: { name: string[] };
}
let index: CoreIndex;
/** The numbers of the second part of the index (gallery-data/*.js). */
let numbers: Record<string, (number | null)[]>;

const url = (file: string) => pathToFileURL(path.join(outDir, file)).href;

describe.runIf(chromiumAvailable())('the gallery in Chromium, from file://', () => {
  beforeAll(async () => {
    ({ work, outDir, library } = await buildDemoSite('cs-gallery-'));
    // The index's two files, each named by its content; the gallery page loads the core by name.
    const html = await readFile(path.join(outDir, 'index.html'), 'utf8');
    const files = await readdir(path.join(outDir, 'gallery-data'));
    const coreFile = files.find((file) => /^core-[0-9a-f]{12}\.js$/.test(file)) as string;
    const extraFile = files.find((file) => /^gallery-[0-9a-f]{12}\.js$/.test(file)) as string;
    expect(files.sort()).toEqual([coreFile, extraFile].sort());
    expect(html).toContain(`<script src="gallery-data/${coreFile}"></script>`);
    expect(html).not.toContain('id="cs-index"');
    const coreText = await readFile(path.join(outDir, 'gallery-data', coreFile), 'utf8');
    index = JSON.parse(/^window\.__csCore=([\s\S]*?);\n$/.exec(coreText)?.[1] ?? '{}') as CoreIndex;
    const script = await readFile(path.join(outDir, 'gallery-data', extraFile), 'utf8');
    numbers = JSON.parse(/^window\.__csExtra=([\s\S]*?);\nif\(/.exec(script)?.[1] ?? '{}') as Record<string, (number | null)[]>;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Copy buttons write here instead of the system clipboard.
    await context.addInitScript(() => {
      const copied: string[] = [];
      Object.assign(window, { __copied: copied });
      Object.defineProperty(navigator, 'clipboard', {
        configurable: true,
        value: { writeText: (text: string) => (copied.push(text), Promise.resolve()) },
      });
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function openGallery(hash = ''): Promise<Page> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    (page as Page & { errors?: string[] }).errors = errors;
    await page.goto(url('index.html') + hash);
    await page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
    return page;
  }

  const cardNames = (page: Page) => page.locator('#results .card-title').allTextContents().then((names) => names.map((name) => name.trim()));
  const facetCount = async (page: Page, facet: string, value: string) => {
    const row = page.locator(`.facet[data-facet="${facet}"] label`).filter({ has: page.locator(`input[value="${value}"]`) });
    return Number((await row.locator('.facet-count').textContent())?.replace(/,/g, ''));
  };

  it('shows every readable model file, with facet counts that match the library', async () => {
    const page = await openGallery();
    const readable = library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');
    expect(await page.locator('#results .card').count()).toBe(readable.length);
    expect(await page.locator('#status').textContent()).toBe(`${readable.length} model files`);

    // Folder facet: every folder level of every readable file, from the manifest.
    const folders = new Map<string, number>();
    const inputIds: Record<string, string> = { Lora: 'loras', Checkpoint: 'checkpoints', Embeddings: 'embeddings' };
    for (const entry of readable) {
      const [top, ...rest] = entry.relativePath.split('/').slice(0, -1);
      const parts = [inputIds[top as string] as string, ...rest];
      for (let depth = 1; depth <= parts.length; depth++) {
        const key = parts.slice(0, depth).join('/');
        folders.set(key, (folders.get(key) ?? 0) + 1);
      }
    }
    const more = page.locator('.facet[data-facet="folder"] .facet-more');
    if (await more.isVisible()) await more.click();
    for (const [folder, count] of folders) expect(await facetCount(page, 'folder', folder), folder).toBe(count);

    const notFound = library.entries.filter((entry) => entry.kind === 'unknown').length;
    expect(await facetCount(page, 'status', 'Not on CivitAI')).toBe(notFound);
    expect(await facetCount(page, 'status', 'On CivitAI')).toBe(readable.length - notFound);
    // Types and base models as CivitAI has them (the three unknown files count as their input path's type).
    expect(await facetCount(page, 'type', 'LORA')).toBe(7);
    expect(await facetCount(page, 'type', 'Checkpoint')).toBe(2);
    expect(await facetCount(page, 'type', 'TextualInversion')).toBe(2);
    expect(await facetCount(page, 'base', 'Illustrious')).toBe(3);
    expect(await facetCount(page, 'base', 'SD 1.5')).toBe(3);
    expect(await facetCount(page, 'creator', 'alericiviai')).toBe(2);

    // Checking a value narrows the cards and the other facets, and its own facet keeps its counts.
    await page.locator('.facet[data-facet="type"] input[value="Checkpoint"]').check();
    expect(await page.locator('#results .card').count()).toBe(2);
    expect(await page.locator('#status').textContent()).toBe(`Showing 2 of ${readable.length} model files`);
    expect(await facetCount(page, 'type', 'LORA')).toBe(7);
    expect(await facetCount(page, 'base', 'Illustrious')).toBe(1);
    expect(await page.locator('#chips .chip-remove').count()).toBe(1);
    await page.locator('.facet[data-facet="base"] input[value="Illustrious"]').check();
    expect(await cardNames(page)).toEqual(['Hyphoria [Illu & NAI]']);
    await page.getByRole('button', { name: 'Clear all' }).click();
    expect(await page.locator('#results .card').count()).toBe(readable.length);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.close();
  });

  it('searches name, file name, creator, tags and trigger words as you type', async () => {
    const page = await openGallery();
    const search = page.locator('#q');
    await search.pressSequentially('semi');
    expect(await cardNames(page)).toEqual(['Semi-realistic illustrious', 'Semi-realistic illustrious']);
    // The facet counts follow once typing pauses: the types of the two results, nothing else.
    const typeCounts = () =>
      page.locator('.facet[data-facet="type"] .facet-count').allTextContents().then((counts) => counts.map(Number).reduce((sum, n) => sum + n, 0));
    await expect.poll(typeCounts).toBe(2);
    await search.fill('alericiviai');
    expect(await page.locator('#results .card').count()).toBe(2);
    await search.fill('verybadimagenegative_v1.3');
    expect(await cardNames(page)).toEqual(['veryBadImageNegative']);
    await search.fill('storybook');
    expect(await cardNames(page)).toEqual(['Vivid Impressions Storybook Style']);
    await search.fill('ciri4');
    expect(await cardNames(page)).toEqual(['Ciri - The Witcher 4 [Hunyuan Video]']);
    await search.fill('cafe');
    expect(await cardNames(page)).toEqual(['Ciri - The Witcher 4 [Hunyuan Video]']);
    await search.fill('no model is called this');
    expect(await page.locator('#results .card').count()).toBe(0);
    await expect.poll(() => page.locator('#empty').isVisible()).toBe(true);
    await search.press('Escape');
    expect(await search.inputValue()).toBe('');
    expect(await page.locator('#results .card').count()).toBe(index.n);
    await page.close();
  });

  it('sorts by every key, both ways, with unknown values last', async () => {
    const page = await openGallery();
    const columns: Record<string, string> = { created: 'cr', updated: 'up', downloads: 'dl', thumbs: 'tu', rating: 'ra', size: 'sz', added: 'ad' };
    const updated = (i: number) => {
      const up = numbers.up![i];
      const cr = numbers.cr![i];
      return up === null || up === undefined ? null : cr === null || cr === undefined ? up : cr + up;
    };
    for (const sort of ['name', 'created', 'updated', 'downloads', 'thumbs', 'rating', 'size', 'added']) {
      for (const dir of ['asc', 'desc'] as const) {
        await page.locator('#sort').selectOption(sort);
        if ((await page.locator('#dir').getAttribute('data-dir')) !== dir) await page.locator('#dir').click();
        const positions = [...Array(index.n).keys()];
        const value = (i: number) => (sort === 'name' ? i : sort === 'updated' ? updated(i) : numbers[columns[sort] as string]![i] ?? null);
        positions.sort((a, b) => {
          const va = value(a);
          const vb = value(b);
          if (va === null || vb === null) return va === null && vb === null ? a - b : va === null ? 1 : -1;
          return (dir === 'asc' ? va - vb : vb - va) || (sort === 'name' ? 0 : a - b);
        });
        expect(await cardNames(page), `${sort} ${dir}`).toEqual(positions.map((i) => index.c.name[i]));
        expect(page.url()).toContain(sort === 'name' ? (dir === 'desc' ? 'dir=desc' : '') : `sort=${sort}`);
      }
    }
    await page.close();
  });

  it('switches between grid, large and list views', async () => {
    const page = await openGallery();
    for (const view of ['large', 'list', 'grid']) {
      await page.getByRole('button', { name: view, exact: false }).filter({ hasText: new RegExp(`^${view}$`, 'i') }).click();
      expect(await page.locator('#results').getAttribute('class')).toBe(`results view-${view}`);
      expect(await page.locator(`[data-view="${view}"]`).getAttribute('aria-pressed')).toBe('true');
      expect(page.url().includes(`view=${view}`)).toBe(view !== 'grid');
    }
    await page.getByRole('button', { name: 'List', exact: true }).click();
    const first = await page.locator('#results .card').first().boundingBox();
    const second = await page.locator('#results .card').nth(1).boundingBox();
    expect(second!.y).toBeGreaterThan(first!.y + first!.height - 1);
    expect(first!.height).toBeLessThan(150);
    await page.close();
  });

  it('groups the local versions of one model into one card', async () => {
    const page = await openGallery();
    await page.locator('#group').check();
    expect(await page.locator('#results .card').count()).toBe(index.n - 1);
    expect(await page.locator('#status').textContent()).toBe(`${index.n - 1} models`);
    const semi = page.locator('#results .card').filter({ hasText: 'Semi-realistic illustrious' });
    expect(await semi.count()).toBe(1);
    await semi.locator('.card-versions summary').click();
    const links = semi.locator('.card-versions a');
    expect(await links.allTextContents()).toEqual(['v1.5 (shown)', 'V1']);
    expect(await links.nth(1).getAttribute('href')).toMatch(/^models\/semi-realistic-v1-old-[0-9a-f]{10}\/index\.html$/);
    expect(page.url()).toContain('group=1');
    expect(await facetCount(page, 'creator', 'alericiviai')).toBe(1);
    await page.close();
  });

  it('keeps all state in the URL: a reload restores it, the back button steps through it', async () => {
    const page = await openGallery();
    await page.locator('#q').fill('s');
    await page.locator('.facet[data-facet="type"] input[value="LORA"]').check();
    await page.locator('#sort').selectOption('downloads');
    await page.getByRole('button', { name: 'List', exact: true }).click();
    const names = await cardNames(page);
    const hash = new URL(page.url()).hash;
    expect(hash).toBe('#q=s&type=LORA&sort=downloads&view=list');

    const again = await openGallery(hash);
    expect(await again.locator('#q').inputValue()).toBe('s');
    expect(await again.locator('.facet[data-facet="type"] input[value="LORA"]').isChecked()).toBe(true);
    expect(await again.locator('#sort').inputValue()).toBe('downloads');
    expect(await again.locator('[data-view="list"]').getAttribute('aria-pressed')).toBe('true');
    expect(await cardNames(again)).toEqual(names);
    await again.close();

    await page.goBack();
    await expect.poll(() => page.locator('[data-view="grid"]').getAttribute('aria-pressed')).toBe('true');
    await page.goBack();
    await expect.poll(() => page.locator('#sort').inputValue()).toBe('name');
    await page.goBack();
    await expect.poll(() => page.locator('.facet[data-facet="type"] input[value="LORA"]').isChecked()).toBe(false);
    await page.goForward();
    await expect.poll(() => page.locator('.facet[data-facet="type"] input[value="LORA"]').isChecked()).toBe(true);
    await page.close();
  });

  it('blurs NSFW previews until clicked, or everywhere with “Show NSFW”', async () => {
    const page = await openGallery();
    const card = page.locator('#results .card').filter({ hasText: 'VSK-94' });
    const filter = () => card.locator('img').evaluate((img) => getComputedStyle(img).filter);
    expect(await filter()).toContain('blur');
    await card.locator('.reveal').click();
    expect(await filter()).toBe('none');
    await card.locator('.reveal').click();
    expect(await filter()).toContain('blur');
    await page.locator('#show-nsfw').check();
    expect(await filter()).toBe('none');
    await page.locator('#show-nsfw').uncheck();
    expect(await filter()).toContain('blur');
    // The facet for content rating counts models, not previews.
    expect(await facetCount(page, 'rating', 'X')).toBe(1);
    await page.close();
  });

  it('is usable from the keyboard', async () => {
    const page = await openGallery();
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('q');
    await page.keyboard.type('vivid');
    expect(await cardNames(page)).toEqual(['Vivid Impressions Storybook Style']);
    await page.keyboard.press('Escape');
    const box = page.locator('.facet[data-facet="type"] input[value="Checkpoint"]');
    await box.focus();
    await page.keyboard.press('Space');
    expect(await page.locator('#results .card').count()).toBe(2);
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value)).toBe('Checkpoint');
    await page.locator('#results .card-link').first().focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/models\/[^/]+\/index\.html$/);
    expect(await page.locator('h1').textContent()).toBe('Hyphoria [Illu & NAI]');
    // Back to the gallery as it was left.
    await page.locator('[data-back]').click();
    await page.waitForURL(/index\.html#type=Checkpoint$/);
    await page.close();
  });

  it('opens images in a viewer with their generation parameters, by mouse, keyboard and swipe', async () => {
    const pages = await readdir(path.join(outDir, 'models'));
    const id = pages.find((name) => name.startsWith('hyphoria')) as string;
    const page = await context.newPage();
    await page.goto(url(`models/${id}/index.html`));
    const shots = page.locator('#shots .shot');
    expect(await shots.count()).toBe(4);
    const prompt = (await shots.first().locator('.prompt').first().textContent()) as string;
    await shots.first().locator('.shot-link').click();
    const dialog = page.locator('#lightbox');
    await expect.poll(() => dialog.evaluate((node: HTMLDialogElement) => node.open)).toBe(true);
    expect(await page.locator('#lb-counter').textContent()).toBe('1 / 4');
    expect(await page.locator('#lb-info .prompt').first().textContent()).toBe(prompt);
    expect(await page.locator('#lb-stage img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await page.locator('#lb-info .copy-button').first().click();
    expect(await page.evaluate(() => (window as unknown as { __copied: string[] }).__copied.at(-1))).toBe(prompt);
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#lb-counter').textContent()).toBe('2 / 4');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('#lb-counter').textContent()).toBe('4 / 4');
    // Swipe left: the next image (wrapping around).
    const stage = await page.locator('#lb-stage').boundingBox();
    await page.mouse.move(stage!.x + stage!.width * 0.7, stage!.y + stage!.height / 2);
    await page.mouse.down();
    await page.mouse.move(stage!.x + stage!.width * 0.2, stage!.y + stage!.height / 2, { steps: 5 });
    await page.mouse.up();
    expect(await page.locator('#lb-counter').textContent()).toBe('1 / 4');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.evaluate((node: HTMLDialogElement) => node.open)).toBe(false);
    // Focus comes back to the image that was opened.
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('shot-link');
    await page.close();
  });

  it('copies trigger words, the usage string, hashes and paths', async () => {
    const pages = await readdir(path.join(outDir, 'models'));
    const id = pages.find((name) => name.startsWith('semi-realistic-illustrious')) as string;
    const page = await context.newPage();
    await page.goto(url(`models/${id}/index.html`));
    const copied = () => page.evaluate(() => (window as unknown as { __copied: string[] }).__copied.at(-1));
    const words = await page.locator('.triggers .chip-copy').allTextContents();
    expect(words.length).toBeGreaterThan(0);
    await page.locator('.triggers .chip-copy').first().click();
    expect(await copied()).toBe(words[0]?.trim());
    await page.getByRole('button', { name: 'Copy all' }).click();
    expect(await copied()).toBe(words.map((word) => word.trim()).join(', '));
    await page.getByRole('button', { name: 'Copy usage' }).click();
    expect(await copied()).toBe('<lora:Semi-realistic illustrious v1.5:1>');
    await page.getByRole('button', { name: 'Copy SHA256' }).click();
    expect(await copied()).toMatch(/^[0-9A-F]{64}$/);
    await page.getByRole('button', { name: 'Copy path' }).click();
    expect(await copied()).toBe(path.join(work, 'demo', 'library', 'Lora', 'Semi-realistic illustrious v1.5.safetensors'));
    await page.getByRole('button', { name: 'Copy folder' }).click();
    expect(await copied()).toBe(path.join(work, 'demo', 'library', 'Lora'));
    expect(await page.locator('.copy-button.copied').count()).toBeGreaterThan(0);
    // Versions: the other local file is linked, every version also on CivitAI.
    const versions = page.locator('.versions .version');
    expect(await versions.count()).toBe(2);
    expect(await versions.nth(1).locator('a', { hasText: 'Local page' }).getAttribute('href')).toMatch(/^\.\.\/semi-realistic-v1-old-/);
    expect(await versions.nth(0).locator('a', { hasText: 'CivitAI' }).getAttribute('href')).toBe(
      'https://civitai.red/models/1580878?modelVersionId=1967584',
    );
    await page.close();
  });

  it('works without JavaScript: the first cards link to their pages, the plain list has every model', async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const page = await plain.newPage();
    await page.goto(url('index.html'));
    const links = await page.locator('#results .card-link').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('href')));
    expect(links).toHaveLength(index.n);
    await page.locator('#results .card-link').first().click();
    await page.waitForURL(/\/models\/[^/]+\/index\.html$/);
    expect(await page.locator('h1').textContent()).toBeTruthy();
    await page.goto(url('list/index.html'));
    expect(await page.locator('.plain-list li a').count()).toBe(index.n);
    expect(await page.locator('.plain-list h2').allTextContents()).toEqual(['Checkpoint', 'LORA', 'TextualInversion']);
    await plain.close();
  });

  it('keeps its first cards and says so when a copy of the site lost its index files', async () => {
    const copy = await mkdtemp(path.join(work, 'no-index-'));
    await cp(outDir, copy, { recursive: true });
    await rm(path.join(copy, 'gallery-data'), { recursive: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(pathToFileURL(path.join(copy, 'index.html')).href, { waitUntil: 'load' });
    expect(await page.locator('#status').textContent()).toMatch(/search index could not be loaded/);
    expect(await page.locator('#results .card').count()).toBe(Math.min(index.n, 24));
    expect(await page.locator('#filters').isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('looks right at phone width: filters open in a drawer', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await page.goto(url('index.html'));
    await page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
    expect(await page.locator('#filters').isVisible()).toBe(false);
    await page.locator('#filters-toggle').click();
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(true);
    await page.locator('.facet[data-facet="type"] input[value="TextualInversion"]').check();
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(false);
    expect(await page.locator('#results .card').count()).toBe(2);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await phone.close();
  });
});
