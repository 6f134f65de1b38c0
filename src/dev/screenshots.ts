/**
 * `npm run screenshots`: pictures of the built demo (run `npm run demo` first) for docs/,
 * taken in Chromium from the files on disk.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../cli/build-site.ts';
import { launchChromium } from './browser.ts';

const dist = path.join(PROJECT_ROOT, 'dist');
const docs = path.join(PROJECT_ROOT, 'docs');
await mkdir(docs, { recursive: true });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
  await page.goto(pathToFileURL(path.join(dist, 'index.html')).href);
  await page.screenshot({ path: path.join(docs, 'gallery.png'), fullPage: true });
  const model = process.argv[2] ?? (await readdir(path.join(dist, 'models'))).find((id) => id.startsWith('semi-realistic-illustrious'));
  if (model) {
    await page.goto(pathToFileURL(path.join(dist, 'models', model, 'index.html')).href);
    await page.screenshot({ path: path.join(docs, 'model-page.png'), fullPage: true });
  }
  process.stdout.write(`screenshots written to ${docs}\n`);
} finally {
  await browser.close();
}
