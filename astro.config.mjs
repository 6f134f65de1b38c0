// @ts-check
// This repository's own site: the demo library's gallery, added the way any Astro site adds it
// (the package imports itself by name, from its compiled dist/), next to a page of its own.
import { defineConfig } from 'astro/config';
import civitscraper from 'civitscraper-astro';

export default defineConfig({
  // `npm run demo` builds here; `npm run preview` serves it.
  outDir: './demo/site',
  integrations: [civitscraper({ lowMemoryBuild: 'auto' })],
  // Model pages whose cacheKey is unchanged are not rendered again (see the README).
  experimental: { incrementalBuild: true },
});
