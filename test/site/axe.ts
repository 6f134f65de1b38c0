/** axe-core in a page of Chromium: the serious and critical violations, plus empty headings and a missing h1. */
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[]; failureSummary?: string }[] }[];
}

/** Serious and critical violations on the page as it is now, one line each; and empty headings. */
export async function violations(page: Page): Promise<string[]> {
  const empty = await page.evaluate(() =>
    [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter((node) => !node.textContent?.trim()).map((node) => `empty heading: ${node.outerHTML.slice(0, 80)}`),
  );
  if (!(await page.locator('h1').count())) empty.push('no h1');
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: require.resolve('axe-core') });
  const result = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<unknown> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  })) as AxeResult;
  return empty.concat(result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .flatMap((violation) =>
      violation.nodes.map((node) => `${violation.id} (${violation.impact}): ${violation.help} at ${node.target.join(' ')}${node.failureSummary ? ` — ${node.failureSummary.replace(/\s+/g, ' ')}` : ''}`),
    ));
}
