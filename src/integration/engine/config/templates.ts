/**
 * The seed's path templates (`{model_dir}/{model_name}.json`, `{type}/{base_model}`), checked
 * when the config is loaded, so that a mistake stops the run with file, key and line instead of
 * showing up as a literal `{model_nme}` folder, or a `{..` folder in every model folder.
 *
 * Syntax: text with `{placeholder}`s; organization templates also take `{placeholder|default}`
 * (the default is used when CivitAI has no value, e.g. `{creator|Unknown Creator}`). Which
 * placeholders exist depends on the key (see `TEMPLATE_KINDS`). Nothing in a template may climb
 * out of the folder it is relative to: no `..` segments, no absolute path where a relative one
 * is expected, and no `{../}`-style pseudo placeholders.
 */
import path from 'node:path';
import { suggest } from './errors.ts';

/** Organization folder templates: values from the model's CivitAI metadata. */
export const ORGANIZATION_PLACEHOLDERS = [
  'model_name',
  'model_type',
  'type',
  'creator',
  'base_model',
  'nsfw',
  'year',
  'month',
  'day',
  'rating',
  'weighted_rating',
  'weighted_thumbsup',
  'rating_count',
  'download_count',
  'thumbs_up_count',
  'version_name',
  'model_id',
  'version_id',
] as const;

export type TemplateKind = 'sidecar-folder' | 'sidecar-file' | 'preview-file' | 'organization' | 'output-dir';

interface KindRules {
  placeholders: readonly string[];
  /** What the template is relative to, for messages; undefined: absolute paths are fine. */
  relativeTo?: string;
  /** `..` segments are refused (a chosen root such as output_dir may name a sibling folder). */
  noParent: boolean;
  defaults: boolean;
}

export const TEMPLATE_KINDS: Record<TemplateKind, KindRules> = {
  // output.metadata.path, output.images.path: `{model_dir}` (the model's folder) may start it.
  'sidecar-folder': { placeholders: ['model_dir', 'model_name', 'model_type'], noParent: true, defaults: false },
  // output.metadata.filename: relative to the sidecar folder.
  'sidecar-file': { placeholders: ['model_name', 'model_type'], relativeTo: 'its folder (`path`)', noParent: true, defaults: false },
  // output.images.filenames.preview: `{image_type}` is `preview`, `{ext}` the image's extension.
  'preview-file': { placeholders: ['model_name', 'model_type', 'image_type', 'ext'], relativeTo: 'its folder (`output.images.path`)', noParent: true, defaults: false },
  // organization.custom_template: relative to organization.output_dir.
  organization: { placeholders: ORGANIZATION_PLACEHOLDERS, relativeTo: '`organization.output_dir`', noParent: true, defaults: true },
  // organization.output_dir: any folder; `{model_dir}` is filled per model.
  'output-dir': { placeholders: ['model_dir'], noParent: false, defaults: false },
};

export type TemplatePart = { text: string } | { name: string; fallback?: string; raw: string };

/** Splits a template into text and placeholders; `error` for an unbalanced brace. */
export function parseTemplate(template: string): { parts: TemplatePart[]; error?: string } {
  const parts: TemplatePart[] = [];
  let text = '';
  for (let index = 0; index < template.length; index += 1) {
    const char = template[index];
    if (char === '}') return { parts, error: `a \`}\` without an opening \`{\` (at character ${index + 1})` };
    if (char !== '{') {
      text += char;
      continue;
    }
    const end = template.indexOf('}', index + 1);
    const nested = template.indexOf('{', index + 1);
    if (end === -1 || (nested !== -1 && nested < end)) {
      return { parts, error: `\`{\` without a closing \`}\` (at character ${index + 1})` };
    }
    if (text) parts.push({ text });
    text = '';
    const raw = template.slice(index, end + 1);
    const inner = raw.slice(1, -1);
    const bar = inner.indexOf('|');
    parts.push(bar === -1 ? { name: inner, raw } : { name: inner.slice(0, bar), fallback: inner.slice(bar + 1), raw });
    index = end;
  }
  if (text) parts.push({ text });
  return { parts };
}

const isPlaceholder = (part: TemplatePart): part is Extract<TemplatePart, { name: string }> => 'name' in part;

/** `C:\x`, `C:x`, `\\server\share`, `/x`: absolute (or drive-relative) on some system. */
function isAbsoluteAnywhere(value: string): boolean {
  return path.posix.isAbsolute(value) || path.win32.isAbsolute(value) || /^[A-Za-z]:/.test(value);
}

const list = (names: readonly string[]) => names.map((name) => `\`{${name}}\``).join(', ');

/** The problems of one template, one message each (empty when it is fine). */
export function checkTemplate(template: string, kind: TemplateKind): string[] {
  const rules = TEMPLATE_KINDS[kind];
  const { parts, error } = parseTemplate(template);
  if (error) return [`${error}; placeholders are written \`{name}\`, e.g. ${list(rules.placeholders.slice(0, 3))}`];
  if ((kind === 'sidecar-file' || kind === 'preview-file') && template.trim() === '') return ['must not be empty: it is the file name'];
  const problems: string[] = [];
  for (const [index, part] of parts.entries()) {
    if (!isPlaceholder(part)) continue;
    if (/[./\\~]/.test(part.name)) {
      problems.push(`\`${part.raw}\` is not a placeholder, and a template cannot climb out of its folder; known here: ${list(rules.placeholders)}`);
    } else if (part.name === 'model_dir' && kind !== 'sidecar-folder' && kind !== 'output-dir') {
      problems.push(
        `\`{model_dir}\` is the model's folder, an absolute path: this template is relative to ${rules.relativeTo ?? 'its folder'} (known here: ${list(rules.placeholders)})`,
      );
    } else if (!rules.placeholders.includes(part.name)) {
      const match = suggest(part.name, rules.placeholders);
      // The list of what is known is left out when it is long and there is a likely match.
      const known = `known here: ${list(rules.placeholders)}`;
      const hint = !match ? `; ${known}` : rules.placeholders.length <= 4 ? ` — did you mean \`{${match}}\`? (${known})` : ` — did you mean \`{${match}}\`?`;
      problems.push(`unknown placeholder \`{${part.name}}\`${hint}`);
    } else if (part.fallback !== undefined && !rules.defaults) {
      problems.push(`\`${part.raw}\`: a default (\`|…\`) only works in organization templates; \`{${part.name}}\` always has a value here`);
    } else if (part.name === 'model_dir' && kind === 'sidecar-folder') {
      const next = parts[index + 1];
      if (index !== 0) problems.push('`{model_dir}` is the model\'s folder, an absolute path: it can only start the template');
      else if (next && !isPlaceholder(next) && !/^[/\\]/.test(next.text)) {
        problems.push(`\`{model_dir}\` must be followed by \`/\` (as in \`{model_dir}/previews\`): \`{model_dir}${next.text}\` is a folder beside the model's, outside it`);
      } else if (next && isPlaceholder(next)) {
        problems.push(`\`{model_dir}\` must be followed by \`/\` (as in \`{model_dir}/{model_name}\`)`);
      }
    }
  }
  if (problems.length > 0) return problems;
  // The shape of the path, with every placeholder standing for one plain folder or file name.
  const shape = parts.map((part) => (isPlaceholder(part) ? (part.name === 'model_dir' ? '' : 'x') : part.text)).join('');
  if (rules.noParent && shape.split(/[/\\]+/).includes('..')) {
    problems.push(`\`..\` climbs out of ${rules.relativeTo ?? "the model's folder"}; write the folder you mean instead`);
  }
  if (rules.relativeTo && isAbsoluteAnywhere(template)) {
    problems.push(`must be relative to ${rules.relativeTo}, but it is an absolute path`);
  }
  return problems;
}

/** True when a sidecar folder template stays in the model's folder (`{model_dir}` or below). */
export function isInModelDir(template: string): boolean {
  return template === '{model_dir}' || /^\{model_dir\}[/\\]/.test(template);
}

/**
 * `output_dir` values no one means: a filesystem root (`/`, `C:\`, `\\server\share`) or the home
 * folder itself. Organizing there would sort files into top-level folders of the whole disk.
 * `resolved` is the value made absolute (with `~` expanded), `written` the value as written.
 */
export function rootLikeTarget(written: string, resolved: string, homeDir: string): string | undefined {
  const trimmed = written.trim();
  if (/^[A-Za-z]:[/\\]*$/.test(trimmed)) return `a drive root (${trimmed})`;
  if (/^\\\\[^/\\]+[/\\]+[^/\\]+[/\\]*$/.test(trimmed)) return `a network share root (${trimmed})`;
  if (trimmed.includes('{model_dir}')) return undefined;
  const absolute = path.resolve(resolved);
  if (path.parse(absolute).root === absolute) return `the filesystem root (${absolute})`;
  if (absolute === path.resolve(homeDir)) return `your home folder itself (${absolute})`;
  return undefined;
}
