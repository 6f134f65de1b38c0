import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { memberOf, parseJsonWithComments, pyDump, pyFloat, pyJsonString, toPlain, type JsonObjectNode } from '../../src/integration/engine/krita/jsonc.ts';
import { computeKritaSync } from '../../src/integration/engine/krita/index.ts';
import { record } from './records.ts';

const FLOATS = [1, 0.8, 0.65, -2.5, 0, 1e-5, 0.0001, 123.456, 1e16, 1e22, 1.5e300, 123456789012345680, 2 ** 53, 1 / 3, 5e-324, -1e-7];
const STRINGS = ['plain', 'a "quoted" \\ back', 'line\nbreak\ttab\r', '\u0001\u001f\u007f', 'café', '桜の花', '😀 emoji', '/slash/', '\b\f'];

describe('Python-compatible output', () => {
  it('floats are written like repr()', () => {
    expect(FLOATS.map(pyFloat)).toEqual([
      '1.0', '0.8', '0.65', '-2.5', '0.0', '1e-05', '0.0001', '123.456', '1e+16', '1e+22', '1.5e+300',
      '1.2345678901234568e+17', '9007199254740992.0', '0.3333333333333333', '5e-324', '-1e-07',
    ]);
  });

  it('strings are escaped like json.dumps (ensure_ascii)', () => {
    expect(pyJsonString('café 😀 "x"\n')).toBe('"caf\\u00e9 \\ud83d\\ude00 \\"x\\"\\n"');
    expect(pyJsonString('\u007f\u0001')).toBe('"\\u007f\\u0001"');
  });

  const python = (() => {
    try {
      execFileSync('python3', ['-c', 'pass']);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!python)('matches python3 json.dumps byte for byte', () => {
    const value = { strings: STRINGS, floats: FLOATS, nested: { empty: {}, list: [], flag: true, nothing: null } };
    const script = 'import json,sys; v=json.loads(sys.stdin.read()); v["floats"]=[float(x) for x in v["floats"]]; sys.stdout.write(json.dumps(v, indent=2))';
    const expected = execFileSync('python3', ['-c', script], { input: JSON.stringify(value), encoding: 'utf8' });
    expect(pyDump(value, '', { unit: '  ', eol: '\n' })).toBe(expected);
    const compact = execFileSync('python3', ['-c', script.replace(', indent=2', '')], { input: JSON.stringify(value), encoding: 'utf8' });
    expect(pyDump(value, '', { unit: undefined, eol: '\n' })).toBe(compact);
  });
});

describe('parser', () => {
  it('skips // comment lines, keeps positions, and reads what Python reads', () => {
    const text = '// head\n[\n  // note\n  {"id": "a", "n": NaN, "id": "b", "m": {"k": [1, -2.5e3]}}\n]';
    const root = parseJsonWithComments(text);
    expect(root.kind).toBe('array');
    const entry = (root.kind === 'array' ? root.items[0] : undefined) as JsonObjectNode;
    const id = memberOf(entry, 'id');
    expect(id?.value).toMatchObject({ kind: 'string', value: 'b' });
    expect(text.slice(id?.value.start, id?.value.end)).toBe('"b"');
    expect(toPlain(entry)).toEqual({ id: 'b', n: Number.NaN, m: { k: [1, -2500] } });
  });

  it('a // inside a string is not a comment, and errors carry line and column', () => {
    const root = parseJsonWithComments('[\n  "http://x"\n]');
    expect(toPlain(root)).toEqual(['http://x']);
    expect(() => parseJsonWithComments('[\n  {"a": 1,}\n]')).toThrow(/line 2, column 11/);
  });

  it('keeps a byte order mark and unusual number spellings untouched', () => {
    const text = '\ufeff[{"id": "a.safetensors", "metadata": {"lora_strength": 1E0, "lora_triggers": ""}}]';
    const { newText } = computeKritaSync(text, [record('a.safetensors', ['alpha'])], 'fill-empty');
    expect(newText).toBe('\ufeff[{"id": "a.safetensors", "metadata": {"lora_strength": 1E0, "lora_triggers": "alpha"}}]');
  });
});
