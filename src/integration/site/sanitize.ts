import sanitizeHtml from 'sanitize-html';

/**
 * Model descriptions are HTML written by strangers. Keep formatting, links and images; drop
 * scripts, event handlers, iframes, forms, styles and any URL that is not http(s)/mailto.
 * Links open in a new tab without giving the target page a handle on ours.
 */
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
  transformTags: {
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
