// @ts-check
import { defineConfig } from 'astro/config';
import civitscraper from './src/integration/index.ts';

export default defineConfig({
  // Relative asset URLs so dist/ works from file:// and under any sub-path.
  build: { format: 'directory', assetsPrefix: undefined },
  integrations: [civitscraper()],
});
