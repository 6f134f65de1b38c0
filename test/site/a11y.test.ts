/**
 * Accessibility of the built demo, checked by axe-core in Chromium: the gallery (grid and list
 * views, the filters), a model page (and its image viewer) and the plain list, in the light and
 * the dark theme. No serious or critical violation is allowed.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../src/dev/browser.ts';
import { buildDemoSite } from '../support/demo-site.ts';
import { violations } from './axe.ts';

let outDir: string;
let browser: Browser;

const ready = (page: Page) =>
  page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);

describe.runIf(chromiumAvailable())('accessibility (axe-core)', () => {
  beforeAll(async () => {
    ({ outDir } = await buildDemoSite('cs-a11y-'));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const url = (file: string) => pathToFileURL(path.join(outDir, file)).href;

  for (const scheme of ['light', 'dark'] as const) {
    it(`the gallery, a model page and the list have no serious violation (${scheme})`, async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.emulateMedia({ colorScheme: scheme });
      const found: Record<string, string[]> = {};

      await page.goto(url('index.html'));
      await ready(page);
      found['gallery'] = await violations(page);
      // A filter that leaves other values at zero (greyed) and a card marked favourite.
      await page.locator('.facet[data-facet="type"] input[value="Checkpoint"]').check();
      await page.locator('#results .card').first().getByRole('button', { name: 'Favourite' }).click();
      found['gallery, filtered'] = await violations(page);
      await page.getByRole('button', { name: 'List', exact: true }).click();
      found['gallery, list view'] = await violations(page);
      await page.getByRole('button', { name: 'Large', exact: true }).click();
      found['gallery, large view'] = await violations(page);

      const id = (await readdir(path.join(outDir, 'models'))).find((name) => name.startsWith('semi-realistic-illustrious')) as string;
      await page.goto(url(`models/${id}/index.html`));
      found['model page'] = await violations(page);
      await page.locator('#shots .shot-link').first().click();
      await expect.poll(() => page.locator('#lightbox').evaluate((node: HTMLDialogElement) => node.open)).toBe(true);
      found['image viewer'] = await violations(page);
      await page.keyboard.press('Escape');

      await page.goto(url('list/index.html'));
      found['plain list'] = await violations(page);
      // The stats and problems pages join ('stats', 'problems') once their own <style> keeps AA
      // contrast: `.count` / `.path` at 75 % opacity give 3.4:1 (light) and 4.43:1 (dark).
      const otherPages: string[] = ['stats', 'problems'];
      for (const extra of otherPages) {
        if (!existsSync(path.join(outDir, extra, 'index.html'))) continue;
        await page.goto(url(`${extra}/index.html`));
        found[extra] = await violations(page);
      }

      // The theme picker gives the same result as the system setting.
      await page.getByLabel('Colour theme').selectOption(scheme);
      await page.goto(url('index.html'));
      await ready(page);
      found['gallery, picked theme'] = await violations(page);

      expect(found).toEqual(Object.fromEntries(Object.keys(found).map((key) => [key, []])));
      await context.close();
    });
  }

  it('the focus ring stands out (3:1) from every surface it is drawn on, in both themes', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(url('index.html'));
    await ready(page);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const ratios = await page.evaluate(() => {
        const rgb = (value: string) => {
          const probe = document.createElement('span');
          probe.style.color = value;
          document.body.appendChild(probe);
          const parts = getComputedStyle(probe).color.match(/[\d.]+/g)!.map(Number);
          probe.remove();
          return parts.slice(0, 3);
        };
        const luminance = ([r, g, b]: number[]) => {
          const [lr, lg, lb] = [r, g, b].map((c) => {
            const v = (c as number) / 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * (lr as number) + 0.7152 * (lg as number) + 0.0722 * (lb as number);
        };
        const contrast = (a: string, b: string) => {
          const [x, y] = [luminance(rgb(a)), luminance(rgb(b))].sort((m, n) => n - m);
          return ((x as number) + 0.05) / ((y as number) + 0.05);
        };
        const style = getComputedStyle(document.documentElement);
        const focus = style.getPropertyValue('--focus').trim();
        return Object.fromEntries(['--bg', '--surface', '--surface-2', '--accent-soft'].map((name) => [name, contrast(focus, style.getPropertyValue(name).trim())]));
      });
      for (const [surface, ratio] of Object.entries(ratios)) expect(ratio, `${scheme} ${surface}`).toBeGreaterThanOrEqual(3);
    }
    await context.close();
  });

  it('the phone layout with the filter drawer open has no serious violation', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await page.goto(url('index.html'));
    await ready(page);
    await page.locator('#filters-toggle').click();
    await expect.poll(() => page.locator('#filters').isVisible()).toBe(true);
    expect(await violations(page)).toEqual([]);
    await context.close();
  });
});
