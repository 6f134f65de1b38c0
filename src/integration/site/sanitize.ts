import sanitizeHtml from 'sanitize-html';

/**
 * Model descriptions are HTML written by strangers. Keep formatting, links and images; drop
 * scripts, event handlers, iframes, forms, styles and any URL that is not http(s)/mailto.
 * Links open in a new tab without giving the target page a handle on ours.
 *
 * Their headings sit under the page's "Description" (an h2): an h1 becomes an h3, an h2 an h4,
 * and so on down to h6; a heading with no text (and no image) is dropped.
 */
const DEMOTED: Record<string, string> = { h1: 'h3', h2: 'h4', h3: 'h5', h4: 'h6', h5: 'h6', h6: 'h6' };
const demote = (tagName: string): sanitizeHtml.Transformer => () => ({ tagName: DEMOTED[tagName] ?? 'h6', attribs: {} });
const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    'p', 'br', 'hr', 'span', 'div', 'strong', 'b', 'em', 'i', 'u', 's', 'del', 'mark', 'small', 'sub', 'sup',
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'code', 'ul', 'ol', 'li', 'a', 'img',
    'table', 'thead', 'tbody', 'tr', 'th', 'td',
  ],
  allowedAttributes: {
    // target/rel/loading/referrerpolicy are set by transformTags below, never taken from input.
    a: ['href', 'title', 'target', 'rel'],
    img: ['src', 'alt', 'title', 'width', 'height', 'loading', 'referrerpolicy'],
    td: ['colspan', 'rowspan'],
    th: ['colspan', 'rowspan'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesAppliedToAttributes: ['href', 'src'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  exclusiveFilter: (frame) => /^h[1-6]$/.test(frame.tag) && !frame.text.trim() && frame.mediaChildren.length === 0,
  transformTags: {
    h1: demote('h1'),
    h2: demote('h2'),
    h3: demote('h3'),
    h4: demote('h4'),
    h5: demote('h5'),
    h6: demote('h6'),
    a: (tagName, { href, title }) => ({
      tagName,
      attribs: { ...(href ? { href } : {}), ...(title ? { title } : {}), target: '_blank', rel: 'noopener noreferrer nofollow' },
    }),
    img: (tagName, { src, alt, title, width, height }) => ({
      tagName,
      attribs: { ...withDefined({ src, alt, title, width, height }), loading: 'lazy', referrerpolicy: 'no-referrer' },
    }),
  },
};

export function sanitizeDescription(html: string | null | undefined): string {
  return html ? sanitizeHtml(html, OPTIONS) : '';
}

function withDefined(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
