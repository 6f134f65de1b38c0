/**
 * What the gallery shows beside CivitAI's data, in Chromium, on one fixture site
 * (status-site.ts): the curation file baked into the pages under the browser's own changes;
 * notes and preferred weights of A1111 and ComfyUI-Lora-Manager sidecars (the weight in the
 * copied usage line); the resources an image was made with in the viewer, linked to local pages;
 * linked by hand, removed from CivitAI, the answering source and missing files as badges and
 * facets; a missing file kept with its sidecars while a moved one is not missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../src/dev/browser.ts';
import { serveStatic } from '../../src/dev/static-server.ts';
import { violations } from './axe.ts';
import { REMOTE_VERSION, type StatusSite } from './status-site.ts';

let site: StatusSite;
let browser: Browser;
let server: Server;
let origin: string;

const ready = (page: Page) =>
  page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);

describe.runIf(chromiumAvailable())('status, curation, sidecar notes and image resources', () => {
  beforeAll(async () => {
    const dir = path.join(tmpdir(), `cs-status-${process.pid}`);
    await promisify(execFile)(process.execPath, ['test/site/status-site.ts', '--dir', dir], { maxBuffer: 64 * 1024 * 1024 });
    site = JSON.parse(await readFile(path.join(dir, 'site.json'), 'utf8')) as StatusSite;
    browser = await launchChromium();
    server = await serveStatic(site.outDir);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (site) await rm(site.dir, { recursive: true, force: true });
  });

  async function httpContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    return context;
  }

  async function openGallery(context: BrowserContext, hash = ''): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${origin}/index.html${hash}`);
    await ready(page);
    return page;
  }

  const card = (page: Page, name: string) => page.locator('#results .card').filter({ has: page.locator('.card-title', { hasText: name }) });
  const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());
  const facetCount = async (page: Page, facet: string, value: string) =>
    Number(await page.locator(`.facet[data-facet="${facet}"] label`).filter({ has: page.locator(`input[value="${value}"]`) }).locator('.facet-count').textContent());
  const modelUrl = (name: keyof StatusSite['ids']) => `${origin}/models/${site.ids[name]}/index.html`;

  it('starts from the curation file; the browser’s changes go on top, field by field, and reset per model', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    const star = () => card(page, 'Alpha Style').getByRole('button', { name: 'Favourite' });
    // From the file: alpha a favourite, gamma hidden (left out until "Show hidden").
    expect(await star().getAttribute('aria-pressed')).toBe('true');
    expect(await card(page, 'Gamma Checkpoint').count()).toBe(0);
    expect(await page.locator('#hidden-count').textContent()).toBe('(1)');
    await page.locator('.facet[data-facet="mytag"] input[value="from the file"]').check();
    expect(await page.locator('#results .card-title').allTextContents()).toEqual(['Alpha Style']);
    await page.locator('.facet[data-facet="mytag"] input[value="from the file"]').uncheck();

    // Un-starred in this browser: stays so after a reload although the file stars it.
    await star().click();
    expect(await star().getAttribute('aria-pressed')).toBe('false');
    await page.reload();
    await ready(page);
    expect(await star().getAttribute('aria-pressed')).toBe('false');
    // The file's tag is still there (only the favourite was changed).
    expect(await card(page, 'Alpha Style').locator('.card-mytags').textContent()).toBe('Your tags: from the file');

    // Export: the file's values with this browser's change, ready to be the next curation file.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export' }).click()]);
    const exported = JSON.parse(await readFile((await download.path()) as string, 'utf8'));
    expect(exported.models[site.ids.alpha]).toEqual({ name: 'Alpha Style', tags: ['from the file'] });
    expect(exported.models[site.ids.beta]).toMatchObject({ weight: 0.9, note: 'Curated note for beta.' });
    expect(exported.models[site.ids.gamma]).toMatchObject({ hidden: true });

    // The model page offers to go back to the file's values.
    const model = await context.newPage();
    await model.goto(modelUrl('alpha'));
    expect(await model.getByRole('button', { name: 'Favourite' }).getAttribute('aria-pressed')).toBe('false');
    const reset = model.getByRole('button', { name: 'Reset to the curation file' });
    expect(await reset.isVisible()).toBe(true);
    await reset.click();
    expect(await model.getByRole('button', { name: 'Favourite' }).getAttribute('aria-pressed')).toBe('true');
    expect(await reset.isVisible()).toBe(false);
    await expect.poll(() => star().getAttribute('aria-pressed')).toBe('true');
    await context.close();
  });

  it('copies the usage line with the curation file’s weight, else the sidecar’s preferred weight; your weight wins', async () => {
    const context = await httpContext();
    const page = await openGallery(context);
    // Server-rendered cards already carry it.
    expect(await card(page, 'Alpha Style').getByRole('button', { name: 'Copy usage' }).getAttribute('title')).toBe('Copy <lora:alpha:0.6>');
    await card(page, 'Alpha Style').getByRole('button', { name: 'Copy usage' }).click();
    await expect.poll(() => clipboard(page)).toBe('<lora:alpha:0.6>');
    // beta: 0.75 in its Lora-Manager file, 0.9 in the curation file.
    await card(page, 'Beta Detail').getByRole('button', { name: 'Copy usage' }).click();
    await expect.poll(() => clipboard(page)).toBe('<lora:beta:0.9>');
    const model = await context.newPage();
    await model.goto(modelUrl('alpha'));
    expect(await model.locator('#usage-line').textContent()).toBe('<lora:alpha:0.6>');
    expect(await model.locator('#weight-input').inputValue()).toBe('0.6');
    await model.locator('#weight-input').fill('0.45');
    await model.locator('#weight-input').press('Enter');
    await expect.poll(() => model.locator('#usage-line').textContent()).toBe('<lora:alpha:0.45>');
    await card(page, 'Alpha Style').getByRole('button', { name: 'Copy usage' }).click();
    await expect.poll(() => clipboard(page)).toBe('<lora:alpha:0.45>');
    await context.close();
  });

  it('shows the notes, weight and activation text other tools keep beside the model', async () => {
    const context = await httpContext();
    const page = await context.newPage();
    await page.goto(modelUrl('alpha'));
    const notes = page.locator('.sidecar-notes');
    expect(await notes.textContent()).toContain('A1111 note: best at 0.6 on a painterly checkpoint.');
    expect(await notes.textContent()).toContain('(A1111 / Forge, alpha.json)');
    await page.goto(modelUrl('beta'));
    expect(await page.locator('.sidecar-notes').textContent()).toContain('Lora-Manager note for beta.');
    expect(await page.locator('.sidecar-notes').textContent()).toContain('ComfyUI-Lora-Manager');
    expect(await page.locator('.sidecar-notes dd').allTextContents()).toContain('0.75');
    // Our own A1111 values (activation text from trigger words) are not shown as the user's.
    expect(await page.locator('.sidecar-notes').textContent()).not.toContain('Activation text');
    // The curation file's note is yours, in the notes field.
    expect(await page.locator('#note-input').inputValue()).toBe('Curated note for beta.');
    await context.close();
  });

  it('lists the resources an image was made with in the viewer, linked to local pages or to CivitAI', async () => {
    const context = await httpContext();
    const page = await context.newPage();
    await page.goto(modelUrl('gamma'));
    await page.locator('#shots .shot-link').first().click();
    const info = page.locator('#lb-info');
    await expect.poll(() => info.locator('.resource').count()).toBeGreaterThan(0);
    const rows = await info.locator('.resource').evaluateAll((nodes) =>
      nodes.map((node) => ({
        kind: node.querySelector('.resource-kind')?.textContent,
        name: node.querySelector('.resource-link, .resource-name')?.textContent,
        href: node.querySelector('a')?.getAttribute('href') ?? null,
        weight: node.querySelector('.resource-weight')?.textContent ?? null,
      })),
    );
    expect(rows).toEqual([
      // By version id (civitaiResources) and by AutoV2 hash (resources, hashes, Lora hashes): once each.
      { kind: 'LoRA', name: 'Beta Detail', href: `../${site.ids.beta}/index.html`, weight: '0.5' },
      { kind: 'LoRA', name: 'Remote LoRA v2', href: `https://civitai.com/model-versions/${REMOTE_VERSION}`, weight: '0.3' },
      { kind: 'LoRA', name: 'Alpha Style', href: `../${site.ids.alpha}/index.html`, weight: '0.8' },
      { kind: 'Checkpoint', name: 'Gamma Checkpoint (this model)', href: null, weight: null },
      { kind: 'Embedding', name: 'easynegative', href: null, weight: null },
    ]);
    await info.getByRole('link', { name: 'Alpha Style' }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe(`/models/${site.ids.alpha}/index.html`);
    // An image without resources says nothing about them.
    await page.goto(modelUrl('gamma'));
    await page.locator('#shots .shot-link').nth(1).click();
    await expect.poll(() => page.locator('#lb-counter').textContent()).toBe('2 / 2');
    expect(await page.locator('#lb-info .resource').count()).toBe(0);
    await context.close();
  });

  it('marks linked by hand, removed from CivitAI, another source and missing files with badges and facets', async () => {
    const context = await httpContext();
    const page = await openGallery(context, '#hidden=1');
    expect(await facetCount(page, 'state', 'Linked by hand')).toBe(1);
    expect(await facetCount(page, 'state', 'Removed from CivitAI')).toBe(1);
    expect(await facetCount(page, 'state', 'Missing file')).toBe(1);
    expect(await facetCount(page, 'source', 'CivArchive')).toBe(1);
    expect(await facetCount(page, 'source', 'CivitAI')).toBe(7);
    expect(await card(page, 'Delta Linked').locator('.badge-linked').textContent()).toBe('linked by hand');
    expect(await card(page, 'Epsilon Gone').locator('.badge-removed').textContent()).toBe('removed from CivitAI');
    expect(await card(page, 'Zeta Archived').locator('.badge-source').textContent()).toBe('via CivArchive');
    expect(await card(page, 'Eta Vanishing').locator('.badge-missing').textContent()).toBe('missing');
    // Moved by the user: found again under its new path, not missing.
    expect(await card(page, 'Theta Moved').locator('.badge-missing').count()).toBe(0);
    await page.locator('.facet[data-facet="state"] input[value="Missing file"]').check();
    expect(await page.locator('#results .card-title').allTextContents()).toEqual(['Eta Vanishing']);
    expect(new URL(page.url()).hash).toContain('state=Missing+file');
    await page.locator('.facet[data-facet="state"] input[value="Missing file"]').uncheck();
    await page.locator('.facet[data-facet="source"] input[value="CivArchive"]').check();
    expect(await page.locator('#results .card-title').allTextContents()).toEqual(['Zeta Archived']);

    // The model pages say the same.
    const model = await context.newPage();
    await model.goto(modelUrl('delta'));
    expect(await model.locator('.model-hero .badge-linked').count()).toBe(1);
    expect(await model.locator('.details-grid').first().textContent()).toContain('Linked by hand');
    await model.goto(modelUrl('zeta'));
    expect(await model.locator('.details-grid').first().textContent()).toContain('CivArchive');
    await model.goto(modelUrl('epsilon'));
    expect(await model.locator('.model-hero .badge-removed').count()).toBe(1);
    await model.goto(modelUrl('eta'));
    expect(await model.locator('.missing-notice').textContent()).toContain('not found by the last scan');
    await context.close();
    // The missing file's sidecar is still there; only the model file went.
    expect(existsSync(path.join(site.library, 'Lora', 'eta.json'))).toBe(true);
    expect(existsSync(path.join(site.library, 'Lora', 'eta.safetensors'))).toBe(false);
  });

  it('has no serious accessibility violation on the pages with these additions (light and dark)', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const found: Record<string, string[]> = {};
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${origin}/index.html#hidden=1`);
      await ready(page);
      found[`gallery ${scheme}`] = await violations(page);
      // Notes from other tools and the personal panel of a curated model.
      await page.goto(modelUrl('alpha'));
      found[`alpha ${scheme}`] = await violations(page);
      await page.goto(modelUrl('gamma'));
      await page.locator('#shots .shot-link').first().click();
      await expect.poll(() => page.locator('#lb-info .resource').count()).toBeGreaterThan(0);
      found[`gamma viewer ${scheme}`] = await violations(page);
    }
    expect(found).toEqual(Object.fromEntries(Object.keys(found).map((key) => [key, []])));
    await context.close();
  });
});
