/**
 * Just enough JSON machinery to edit Krita AI Diffusion's `loras.json` in place:
 *
 * - a parser that keeps the source position of every value and key, and accepts what Krita's
 *   own reader accepts (`read_json_with_comments`: whole lines starting with `//` are ignored;
 *   Python's `json.loads` also takes NaN / Infinity);
 * - a serializer that writes values the way Python's `json.dumps(indent=N)` does (ASCII only,
 *   `\uXXXX` escapes, floats with a `.0`), used only for the few values we insert or replace.
 *
 * Everything we do not change is spliced through byte for byte, so comment lines, key order,
 * number spellings (`1.0` stays `1.0`) and the file's indentation survive.
 */

export type JsonNode = JsonObjectNode | JsonArrayNode | JsonScalarNode;

interface Span {
  /** Offset of the first character of the value. */
  start: number;
  /** Offset just past its last character. */
  end: number;
}

export interface JsonMember {
  key: string;
  keyStart: number;
  keyEnd: number;
  value: JsonNode;
}

export interface JsonObjectNode extends Span {
  kind: 'object';
  members: JsonMember[];
}

export interface JsonArrayNode extends Span {
  kind: 'array';
  items: JsonNode[];
}

export interface JsonScalarNode extends Span {
  kind: 'string' | 'number' | 'boolean' | 'null';
  value: string | number | boolean | null;
}

export class JsonSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(message: string, text: string, offset: number) {
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    super(`${message} at line ${line}, column ${column}`);
    this.name = 'JsonSyntaxError';
    this.line = line;
    this.column = column;
  }
}

/**
 * Blanks out the lines Krita ignores (first non-blank characters `//`) with spaces, so offsets in
 * the result are offsets in the original text.
 */
export function maskCommentLines(text: string): string {
  return text.replace(/^[ \t]*\/\/[^\r\n]*/gm, (line) => ' '.repeat(line.length));
}

/** Parses JSON with Krita's `//` comment lines; positions refer to `text`. */
export function parseJsonWithComments(text: string): JsonNode {
  return new Parser(maskCommentLines(text)).parseDocument();
}

class Parser {
  private readonly text: string;
  private pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  parseDocument(): JsonNode {
    if (this.text.charCodeAt(0) === 0xfeff) this.pos = 1;
    this.skipWhitespace();
    const node = this.parseValue();
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail('unexpected text after the JSON value');
    return node;
  }

  private fail(message: string, offset = this.pos): never {
    throw new JsonSyntaxError(message, this.text, offset);
  }

  private skipWhitespace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos += 1;
      else break;
    }
  }

  private parseValue(): JsonNode {
    const start = this.pos;
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.parseObject();
      case '[':
        return this.parseArray();
      case '"':
        return { kind: 'string', start, value: this.parseString(), end: this.pos };
      case undefined:
        return this.fail('unexpected end of file');
      default:
        break;
    }
    for (const [word, kind, value] of LITERALS) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return { kind, value, start, end: this.pos };
      }
    }
    const match = NUMBER.exec(this.text.slice(this.pos, this.pos + 400));
    if (!match) return this.fail(`unexpected character ${JSON.stringify(c)}`);
    this.pos += match[0].length;
    return { kind: 'number', value: Number(match[0]), start, end: this.pos };
  }

  private parseObject(): JsonObjectNode {
    const start = this.pos;
    this.pos += 1;
    const members: JsonMember[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return { kind: 'object', members, start, end: this.pos };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a property name in double quotes');
      const keyStart = this.pos;
      const key = this.parseString();
      const keyEnd = this.pos;
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail("expected ':' after a property name");
      this.pos += 1;
      this.skipWhitespace();
      const value = this.parseValue();
      members.push({ key, keyStart, keyEnd, value });
      this.skipWhitespace();
      const next = this.text[this.pos];
      this.pos += 1;
      if (next === '}') return { kind: 'object', members, start, end: this.pos };
      if (next !== ',') this.fail("expected ',' or '}'", this.pos - 1);
    }
  }

  private parseArray(): JsonArrayNode {
    const start = this.pos;
    this.pos += 1;
    const items: JsonNode[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return { kind: 'array', items, start, end: this.pos };
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.parseValue());
      this.skipWhitespace();
      const next = this.text[this.pos];
      this.pos += 1;
      if (next === ']') return { kind: 'array', items, start, end: this.pos };
      if (next !== ',') this.fail("expected ',' or ']'", this.pos - 1);
    }
  }

  private parseString(): string {
    const start = this.pos;
    this.pos += 1;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n' || c === '\r') this.fail('unterminated string', start);
      this.pos += 1;
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const escape = this.text[this.pos];
      this.pos += 1;
      if (escape === 'u') {
        const hex = this.text.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape', this.pos - 2);
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.pos += 4;
      } else {
        const decoded = escape === undefined ? undefined : SIMPLE_ESCAPES[escape];
        if (decoded === undefined) this.fail('bad escape', this.pos - 2);
        out += decoded;
      }
    }
  }
}

const LITERALS: readonly [string, JsonScalarNode['kind'], JsonScalarNode['value']][] = [
  ['true', 'boolean', true],
  ['false', 'boolean', false],
  ['null', 'null', null],
  ['NaN', 'number', Number.NaN],
  ['Infinity', 'number', Number.POSITIVE_INFINITY],
  ['-Infinity', 'number', Number.NEGATIVE_INFINITY],
];

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/;

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** The plain value of a node; a repeated key keeps its last value, as Python's `json` does. */
export function toPlain(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object':
      return Object.fromEntries(node.members.map((member) => [member.key, toPlain(member.value)]));
    case 'array':
      return node.items.map(toPlain);
    default:
      return node.value;
  }
}

/** The member Python's `json` would keep for `key` (the last one). */
export function memberOf(node: JsonObjectNode, key: string): JsonMember | undefined {
  for (let index = node.members.length - 1; index >= 0; index -= 1) {
    const member = node.members[index];
    if (member?.key === key) return member;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Python-compatible output

const PY_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * A string as `json.dumps` writes it with its default `ensure_ascii=True`: everything outside
 * printable ASCII becomes `\uXXXX` (lower-case hex, UTF-16 surrogate pairs for astral characters).
 */
export function pyJsonString(value: string): string {
  return `"${value.replace(/[\\"\u0000-\u001f\u007f-\uffff]/g, (c) => PY_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** A float as Python's `repr` writes it: `1.0`, `0.75`, `1e-05`, `1e+16`. */
export function pyFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '0', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace(/^-/, '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${body}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${whole}.${fraction || '0'}`;
}

export interface PyLayout {
  /** One indentation step (`'  '` for `indent=2`); `undefined` for single-line JSON. */
  unit: string | undefined;
  /** Line break used by the file (`\r\n` when Python wrote it on Windows). */
  eol: string;
}

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/**
 * `json.dumps(value, indent=…)` for a value starting at a line indented by `indent`
 * (the closing bracket gets that indentation). Numbers are written as Python floats.
 */
export function pyDump(value: PyValue, indent: string, layout: PyLayout): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return pyJsonString(value);
  if (typeof value === 'number') return pyFloat(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const inner = indent + (layout.unit ?? '');
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((item) => pyDump(item, inner, layout));
    return layout.unit === undefined
      ? `[${items.join(', ')}]`
      : `[${layout.eol}${inner}${items.join(`,${layout.eol}${inner}`)}${layout.eol}${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const members = entries.map(([key, item]) => `${pyJsonString(key)}: ${pyDump(item, inner, layout)}`);
  return layout.unit === undefined
    ? `{${members.join(', ')}}`
    : `{${layout.eol}${inner}${members.join(`,${layout.eol}${inner}`)}${layout.eol}${indent}}`;
}

/** Leading blanks of the line that holds `offset`. */
export function lineIndentAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart, offset + 1))?.[0] ?? '';
}

/** Guesses indentation step and line break from the top-level array, as Krita wrote it. */
export function detectLayout(text: string, root: JsonNode): PyLayout {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const masked = maskCommentLines(text);
  const container = root.kind === 'array' || root.kind === 'object' ? root : undefined;
  const first = container?.kind === 'array' ? container.items[0] : container?.members[0]?.value;
  const firstStart = container?.kind === 'object' ? container.members[0]?.keyStart : first?.start;
  if (!container || firstStart === undefined) return { unit: '  ', eol };
  const lead = masked.slice(container.start + 1, firstStart);
  if (!lead.includes('\n')) return { unit: undefined, eol };
  const inner = lineIndentAt(text, firstStart);
  const outer = lineIndentAt(text, container.start);
  const unit = inner.startsWith(outer) ? inner.slice(outer.length) : inner;
  return { unit: unit.length > 0 ? unit : '  ', eol };
}

/** One text replacement: `[start, end)` of the original becomes `text`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping edits. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let out = '';
  let cursor = 0;
  for (const edit of sorted) {
    if (edit.start < cursor) throw new Error('overlapping edits');
    out += text.slice(cursor, edit.start) + edit.text;
    cursor = edit.end;
  }
  return out + text.slice(cursor);
}
