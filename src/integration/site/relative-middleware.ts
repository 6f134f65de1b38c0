/**
 * Gives the gallery's pages relative URLs (site/relative-urls.ts) as Astro renders them, in
 * `astro build` with `relativeUrls` on. Done here rather than on the files after the build: a
 * page Astro's incremental build restores is then already right, so a build with nothing changed
 * reads and rewrites no page (at 5,000 models the pass over the files was a sixth of it). Other
 * pages of the host's site, anything that is not HTML, and pages whose URLs are relative as
 * written (RELATIVE_AT_SOURCE: the model pages) pass through untouched.
 */
import type { MiddlewareHandler } from 'astro';
import settings from 'virtual:civitscraper/settings';
import { pageDepth, RELATIVE_AT_SOURCE, relativizeHtml, routeKey } from './relative-urls.ts';

export const onRequest: MiddlewareHandler = async (context, next) => {
  const response = await next();
  const relative = settings.relativeUrls;
  if (!relative || !context.isPrerendered || response.status !== 200) return response;
  if ((context.locals as Record<symbol, unknown>)[RELATIVE_AT_SOURCE] === true) return response;
  if (!relative.patterns.includes(routeKey(context.routePattern))) return response;
  if (!(response.headers.get('content-type') ?? '').includes('text/html')) return response;
  const html = await response.text();
  return new Response(relativizeHtml(html, pageDepth(context.url.pathname, relative.base), relative.base), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};

