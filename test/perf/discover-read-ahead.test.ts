/**
 * Discovery reads folders' listings ahead of its walk (scan/discover.ts, createReadAhead); what
 * it finds must come back as a walk one folder at a time gives it: depth first, each folder's
 * names sorted, subfolders walked where their names sort, problems where they were met. The
 * expectation is built by such a walk here (synchronous, nothing read ahead), so a read-ahead
 * that handed the walk a listing out of turn shows as a different order.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputPathSchema } from '../../src/integration/engine/config/schema.ts';
import { discoverModelFiles } from '../../src/integration/engine/scan/discover.ts';

let dir: string;
let root: string;
/** An input path of LoRAs at `folder`, with the config's defaults (`*.safetensors`, recursive). */
const loras = (folder: string) => InputPathSchema.parse({ path: folder, type: 'LORA' });
const asRoot = process.getuid?.() === 0;

/** Relative paths of the models a one-folder-at-a-time walk finds, in its order. */
function expectedWalk(folder: string, relative: string, skip: Set<string>): string[] {
  const found: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder).filter((name) => !name.startsWith('.'));
  } catch {
    return found;
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const full = path.join(folder, name);
    const rel = relative ? `${relative}/${name}` : name;
    if (statSync(full).isDirectory()) {
      if (!skip.has(full)) found.push(...expectedWalk(full, rel, skip));
    } else if (name.toLowerCase().endsWith('.safetensors')) found.push(rel);
  }
  return found;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'civitscraper-read-ahead-'));
  root = path.join(dir, 'library');
  // Names that sort otherwise than they are made, folders and files mixed in one folder, small
  // folders (read several ahead) and big ones (one ahead), nesting three deep.
  const make = async (folder: string, models: number, extras: number) => {
    await mkdir(folder, { recursive: true });
    for (let index = models - 1; index >= 0; index -= 1) await writeFile(path.join(folder, `m-${(index * 7) % models}-${index}.safetensors`), 'x');
    for (let index = 0; index < extras; index += 1) await writeFile(path.join(folder, `m-${index}.civitai.info`), '{}');
  };
  for (let shelf = 24; shelf >= 0; shelf -= 1) {
    const folder = path.join(root, `shelf-${String.fromCharCode(97 + ((shelf * 11) % 25))}${shelf}`);
    await make(folder, 3, shelf % 5 === 0 ? 600 : 2);
    if (shelf % 3 === 0) {
      await make(path.join(folder, 'Nested'), 2, 0);
      await make(path.join(folder, 'Nested', 'deeper'), 1, 0);
      await make(path.join(folder, 'a-first'), 1, 0);
    }
  }
  await writeFile(path.join(root, 'top.safetensors'), 'x');
  await writeFile(path.join(root, 'shelf-m.safetensors'), 'x');
  await make(path.join(root, '.hidden'), 2, 0);
  await make(path.join(root, 'excluded'), 2, 0);
  // A symlinked folder is walked where its name sorts, under its own name.
  await make(path.join(dir, 'elsewhere'), 2, 0);
  await symlink(path.join(dir, 'elsewhere'), path.join(root, 'shelf-linked'));
  if (!asRoot) {
    await make(path.join(root, 'shelf-b-locked'), 1, 0);
    await make(path.join(root, 'shelf-y-locked'), 1, 0);
    await chmod(path.join(root, 'shelf-b-locked'), 0o000);
    await chmod(path.join(root, 'shelf-y-locked'), 0o000);
  }
});

afterAll(async () => {
  if (!asRoot) {
    await chmod(path.join(root, 'shelf-b-locked'), 0o755).catch(() => undefined);
    await chmod(path.join(root, 'shelf-y-locked'), 0o755).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('discovery reads folders ahead of its walk', () => {
  it('finds the files of many folders in the order of a walk one folder at a time', async () => {
    const excluded = path.join(root, 'excluded');
    const result = await discoverModelFiles({ lib: loras(root) }, ['lib'], { exclude: [excluded] });
    const expected = expectedWalk(root, '', new Set([excluded]));
    expect(expected.length).toBeGreaterThan(100);
    expect(expected).toContain('shelf-linked/m-0-0.safetensors');
    expect(result.files.map((file) => file.relativePath)).toEqual(expected);
    expect(result.files.every((file) => file.path === path.join(root, file.relativePath))).toBe(true);
    if (!asRoot) {
      expect(result.problems.map((problem) => path.relative(root, problem.path))).toEqual(['shelf-b-locked', 'shelf-y-locked']);
      expect(result.problems[0]?.message).toMatch(/permission denied/);
    } else expect(result.problems).toEqual([]);
  });

  it('keeps that order with a second input over folders the first already walked', async () => {
    const input = { lib: loras(root), again: loras(path.join(root, 'shelf-a0')) };
    const result = await discoverModelFiles(input, ['lib', 'again'], { exclude: [path.join(root, 'excluded')] });
    // The second input's files were found by the first: reported once, in the first one's order.
    const paths = result.files.map((file) => file.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(result.files.map((file) => file.relativePath)).toEqual(expectedWalk(root, '', new Set([path.join(root, 'excluded')])));
  });
});
