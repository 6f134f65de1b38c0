/**
 * Relative URLs made while the pages render (site/relative-middleware.ts), not by a pass over the
 * built files: each page's depth comes from its path, and the stylesheets are found from one
 * page of each route whose links are already relative.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pageDepth, relativizeHtml, relativizeStylesheets, routeKey } from '../../src/integration/site/relative-urls.ts';

describe('relative URLs at render time', () => {
  it('finds the depth of a page file from its path, without Astro\'s base', () => {
    expect(pageDepth('/')).toBe(0);
    expect(pageDepth('/list/')).toBe(1);
    expect(pageDepth('/list')).toBe(1);
    expect(pageDepth('/models/models/a%20b/')).toBe(3);
    expect(pageDepth('/docs/models/x/', '/docs/')).toBe(2);
    expect(pageDepth('/docs', '/docs')).toBe(0);
    // Not the base: a folder that only starts like it.
    expect(pageDepth('/docsy/x/', '/docs/')).toBe(2);
    expect(pageDepth('/about.html')).toBe(0);
    expect(routeKey('models/[id]/')).toBe('/models/[id]');
    expect(relativizeHtml('<link rel="stylesheet" href="/docs/_astro/a.css">', pageDepth('/docs/models/x/', '/docs/'), '/docs/')).toBe(
      '<link rel="stylesheet" href="../../_astro/a.css">',
    );
  });

  it('rewrites the stylesheets a page links to relatively or absolutely, nothing outside the site', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'cs-rel-render-'));
    await mkdir(path.join(out, 'models', 'a'), { recursive: true });
    await mkdir(path.join(out, '_astro'), { recursive: true });
    const page = path.join(out, 'models', 'a', 'index.html');
    await writeFile(
      page,
      '<link rel="stylesheet" href="../../_astro/s.css"><link rel=stylesheet href="/_astro/t.css"><link rel="stylesheet" href="https://cdn.example/x.css"><link rel="stylesheet" href="../../../outside.css">',
    );
    await writeFile(path.join(out, '_astro', 's.css'), 'b{background:url(/_astro/i.png)}');
    await writeFile(path.join(out, '_astro', 't.css'), 'i{background:url(/_astro/j.png)}');
    await writeFile(path.join(out, '_astro', 'host.css'), 'b{background:url(/_astro/i.png)}');
    const { files } = await relativizeStylesheets(out, [page]);
    expect(files).toBe(2);
    expect(await readFile(path.join(out, '_astro', 's.css'), 'utf8')).toBe('b{background:url(../_astro/i.png)}');
    expect(await readFile(path.join(out, '_astro', 't.css'), 'utf8')).toBe('i{background:url(../_astro/j.png)}');
    expect(await readFile(path.join(out, '_astro', 'host.css'), 'utf8')).toBe('b{background:url(/_astro/i.png)}');
  });
});
