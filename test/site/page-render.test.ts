/**
 * What a model page is handed so that rendering it costs little: descriptions sanitised once,
 * when the entry is made (never raw HTML in a details file), and URLs relative as written, so the
 * relative-URL middleware passes the model pages by (checked on the shared demo build).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelRecordSchema } from '../../src/integration/engine/records/schema.ts';
import { DETAILS_FORMAT, readSiteDetails, splitForSite, writeDetailsFiles } from '../../src/integration/site/details.ts';
import { pageDepth, relativizeHtml, sourceRelative } from '../../src/integration/site/relative-urls.ts';
import { sanitizeDescription } from '../../src/integration/site/sanitize.ts';
import { buildDemoSite } from '../support/demo-site.ts';

const HOSTILE = '<p onclick="alert(1)">Hi</p><script>alert(2)</script><a href="javascript:alert(3)">x</a><img src="x" onerror="alert(4)"><style>*{}</style>';

function record(id: string, modelDescription: string | undefined, versionDescription: string | undefined) {
  return ModelRecordSchema.parse({
    id,
    file: { path: `/m/${id}.safetensors`, inputPathId: 'loras', inputType: 'LORA', relativePath: `${id}.safetensors`, folder: '', name: `${id}.safetensors`, stem: id, ext: '.safetensors', size: 10, mtimeMs: 1 },
    hashes: { SHA256: 'AA' },
    civitai: { status: 'identified' },
    version: { id: 7, modelId: 3, ...(versionDescription ? { description: versionDescription } : {}) },
    model: { id: 3, name: 'X', ...(modelDescription ? { description: modelDescription } : {}) },
    images: [],
  });
}

describe('descriptions in the details files', () => {
  it('are stored sanitised, once per distinct description, and never as sent', async () => {
    const sanitized = new Map<string, string>();
    const first = splitForSite(record('a', HOSTILE, '<iframe src="https://evil.example/"></iframe><b>notes</b>'), sanitized);
    const second = splitForSite(record('b', HOSTILE, undefined), sanitized);
    expect(first.details.descriptionHtml).toBe(sanitizeDescription(HOSTILE));
    expect(first.details.descriptionHtml).toBe('<p>Hi</p><a target="_blank" rel="noopener noreferrer nofollow">x</a><img src="x" loading="lazy" referrerpolicy="no-referrer" />');
    expect(first.details.versionNotesHtml).toBe('<b>notes</b>');
    expect(second.details).toEqual({ descriptionHtml: first.details.descriptionHtml });
    // Two files of one model: its description went through the sanitiser once.
    expect(sanitized.size).toBe(2);
    // Without a model description the version's is the description, not notes beside it.
    expect(splitForSite(record('c', undefined, '<b>v</b>')).details).toEqual({ descriptionHtml: '<b>v</b>' });

    const dir = await mkdtemp(path.join(tmpdir(), 'cs-page-render-'));
    try {
      await writeDetailsFiles(dir, [{ id: 'a', details: first.details }]);
      const text = await readFile(path.join(dir, 'a.json'), 'utf8');
      expect(text).not.toMatch(/<script|<iframe|<style|onclick|onerror|javascript:/i);
      expect(readSiteDetails(dir, 'a')).toEqual(first.details);
      // A file written before descriptions were stored sanitised: its raw HTML is never shown,
      // whether it has no format or claims this one.
      await writeFile(path.join(dir, 'old.json'), JSON.stringify({ modelDescription: HOSTILE, versionDescription: HOSTILE }));
      expect(readSiteDetails(dir, 'old')).toBeUndefined();
      await writeFile(path.join(dir, 'old.json'), JSON.stringify({ format: DETAILS_FORMAT, modelDescription: HOSTILE }));
      expect(readSiteDetails(dir, 'old')?.descriptionHtml).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('URLs relative as written', () => {
  it('makes a root-absolute URL of the site relative to the page as the middleware would, only in a build with relative URLs', () => {
    const cases: [string, string, string][] = [
      ['/_astro/a.css', '/models/x/', '/'],
      ['/_astro/a.css', '/', '/'],
      ['/_astro/a.css', '/list/', '/'],
      // The gallery under a prefix of the host's site: the assets are at the site's root.
      ['/_astro/a.css', '/gallery/', '/'],
      ['/_astro/a.css', '/gallery/models/x/', '/'],
      // Astro's base is in the URLs, not in the files.
      ['/docs/_astro/a.css', '/docs/models/x/', '/docs/'],
      ['/docs/_astro/a.css', '/docs/', '/docs'],
    ];
    for (const [url, pathname, base] of cases) {
      expect(sourceRelative(url, pathname, { base }), `${url} ${pathname} ${base}`).toBe(relativizeHtml(` src="${url}"`, pageDepth(pathname, base), base).slice(6, -1));
    }
    expect(sourceRelative('/_astro/a.css', '/gallery/models/x/', { base: '/' })).toBe('../../../_astro/a.css');
    expect(sourceRelative('/_astro/a.css', '/models/x/', undefined)).toBe('/_astro/a.css');
    expect(sourceRelative('//cdn.example/a.css', '/models/x/', { base: '/' })).toBe('//cdn.example/a.css');
    expect(sourceRelative('https://cdn.example/a.css', '/models/x/', { base: '/' })).toBe('https://cdn.example/a.css');
  });

  describe('in the built demo', () => {
    let outDir: string;
    beforeAll(async () => {
      ({ outDir } = await buildDemoSite('cs-page-render-'));
    }, 300_000);

    it('model pages have nothing left for the middleware to rewrite, and their stylesheet is there', async () => {
      const ids = await readdir(path.join(outDir, 'models'));
      expect(ids.length).toBeGreaterThan(5);
      for (const id of ids) {
        const html = await readFile(path.join(outDir, 'models', id, 'index.html'), 'utf8');
        expect(relativizeHtml(html, 2), id).toBe(html);
        const sheets = [...html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((match) => match[1] as string);
        expect(sheets, id).toHaveLength(1);
        expect(sheets[0], id).toMatch(/^\.\.\/\.\.\/_astro\/[^/]+\.css$/);
        expect(existsSync(path.join(outDir, 'models', id, sheets[0] as string)), id).toBe(true);
      }
      // The gallery links the same stylesheet from its own depth.
      const gallery = await readFile(path.join(outDir, 'index.html'), 'utf8');
      expect(gallery).toMatch(/<link rel="stylesheet" href="\.\/_astro\/[^"/]+\.css"/);
      expect(relativizeHtml(gallery, 0)).toBe(gallery);
    });
  });
});
