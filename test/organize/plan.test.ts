import { mkdirSync, mkdtempSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyPlan,
  formatPlanTable,
  planOrganization,
  planToJson,
  readPlanJson,
  resolveOutputRoot,
  writePlanJson,
} from '../../src/integration/engine/organize/index.ts';
import { buildLibrary, organization, output, treeChecksum, writeFile } from './helpers.ts';

let tmp: string;
let lib: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'organize-plan-'));
  lib = path.join(tmp, 'lib');
  mkdirSync(lib);
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('planOrganization', () => {
  it('takes the model with every sidecar of its own, and nothing of its neighbours', () => {
    const [record] = buildLibrary(lib, [
      { rel: 'foo.safetensors', companions: ['json', 'civitai.info', 'html', 'preview.png', 'preview1.jpeg', 'preview2.mp4', 'preview12.webp'] },
      { rel: 'foo.v2.safetensors', companions: ['json', 'preview1.jpeg'] },
      { rel: 'foobar.safetensors', companions: ['json'] },
    ]);
    writeFile(path.join(lib, 'foo.txt'), 'user notes, not ours');
    writeFile(path.join(lib, 'foo.yaml'), 'not ours');
    const plan = planOrganization([record!], { organization: organization({ output_dir: path.join(tmp, 'out') }), output: output() });
    const unit = plan.units[0]!;
    expect(unit.verdict).toBe('ok');
    expect(unit.targetDir).toBe(path.join(tmp, 'out', 'LORA'));
    expect(unit.files[0]).toMatchObject({ role: 'model', source: path.join(lib, 'foo.safetensors'), target: path.join(tmp, 'out', 'LORA', 'foo.safetensors') });
    expect(unit.files[0]!.sha256).toMatch(/^[0-9A-F]{64}$/);
    expect(unit.files.map((file) => path.basename(file.source)).sort()).toEqual(
      ['foo.civitai.info', 'foo.html', 'foo.json', 'foo.preview.png', 'foo.preview1.jpeg', 'foo.preview12.webp', 'foo.preview2.mp4', 'foo.safetensors'].sort(),
    );
    for (const file of unit.files) expect(path.dirname(file.target)).toBe(unit.targetDir);
  });

  it('leaves sidecars in output.base_dir where they are', () => {
    const base = path.join(tmp, 'sidecars');
    const [record] = buildLibrary(lib, [{ rel: 'bar.safetensors' }]);
    writeFile(path.join(base, 'loras', 'bar.json'), '{}');
    writeFile(path.join(base, 'loras', 'bar.preview1.jpeg'), 'x');
    const withCentral = { ...record!, sidecarPath: path.join(base, 'loras', 'bar.json'), images: [{ path: path.join(base, 'loras', 'bar.preview1.jpeg'), url: 'u', type: 'image' as const, nsfwLevel: 1 }] };
    const plan = planOrganization([withCentral], { organization: organization({ output_dir: path.join(tmp, 'out') }), output: output({ base_dir: base }) });
    expect(plan.units[0]!.files.map((file) => file.role)).toEqual(['model']);
  });

  it('skips records that are not identified or whose file is gone', () => {
    const records = buildLibrary(lib, [{ rel: 'a.safetensors', fixture: { identified: false } }, { rel: 'b.safetensors' }]);
    rmSync(records[1]!.file.path);
    const plan = planOrganization(records, { organization: organization({ output_dir: path.join(tmp, 'out') }), output: output() });
    expect(plan.units).toHaveLength(0);
    expect(plan.skipped.map((entry) => entry.reason)).toEqual([expect.stringContaining('not identified'), expect.stringContaining('missing')]);
  });

  it('judges collisions: exists → policy, same target twice → never overwritten, folder in the way → fail', () => {
    const records = buildLibrary(lib, [
      { rel: 'one/same.safetensors', fixture: { versionId: 1 } },
      { rel: 'two/same.safetensors', fixture: { versionId: 2 } },
      { rel: 'taken.safetensors' },
      { rel: 'dir.safetensors' },
    ]);
    const out = path.join(tmp, 'out');
    writeFile(path.join(out, 'LORA', 'taken.safetensors'), 'someone else');
    mkdirSync(path.join(out, 'LORA', 'dir.safetensors'), { recursive: true });
    for (const policy of ['skip', 'overwrite', 'fail'] as const) {
      const plan = planOrganization(records, { organization: organization({ output_dir: out, on_collision: policy }), output: output() });
      const verdicts = plan.units.map((unit) => [unit.files[0]!.collision, unit.verdict]);
      expect(verdicts).toEqual([
        ['none', 'ok'],
        ['planned', policy === 'skip' ? 'skip' : 'fail'],
        ['exists', policy],
        ['directory', 'fail'],
      ]);
    }
  });

  it('never overwrites a file this run takes away (a target that is another model’s source)', () => {
    const records = buildLibrary(lib, [
      { rel: 'LORA/x.safetensors', fixture: { type: 'Checkpoint' } },
      { rel: 'y/x.safetensors', fixture: { type: 'LORA' } },
    ]);
    const plan = planOrganization(records, { organization: organization({ output_dir: lib, on_collision: 'overwrite' }), output: output() });
    expect(plan.units[1]!.files[0]!.collision).toBe('planned');
    expect(plan.units[1]!.verdict).toBe('fail');
  });

  it('a file where a folder must go blocks the unit', () => {
    const [record] = buildLibrary(lib, [{ rel: 'm.safetensors' }]);
    writeFile(path.join(tmp, 'out', 'LORA'), 'a file named like the folder');
    const plan = planOrganization([record!], { organization: organization({ output_dir: path.join(tmp, 'out') }), output: output() });
    expect(plan.units[0]).toMatchObject({ verdict: 'fail', files: [{ collision: 'blocked' }] });
  });

  it('recognises files already in place (move, hardlink, symlink reruns)', () => {
    const [record] = buildLibrary(lib, [{ rel: 'organized/LORA/m.safetensors', companions: ['json'] }]);
    const plan = planOrganization([record!], { organization: organization({ output_dir: '{model_dir}/organized' }), output: output() });
    expect(plan.units[0]!.verdict).toBe('in-place');
    expect(plan.units[0]!.targetDir).toBe(path.join(lib, 'organized', 'LORA'));

    const [linked] = buildLibrary(lib, [{ rel: 'src/n.safetensors' }]);
    mkdirSync(path.join(tmp, 'view', 'LORA'), { recursive: true });
    symlinkSync(linked!.file.path, path.join(tmp, 'view', 'LORA', 'n.safetensors'));
    const symPlan = planOrganization([linked!], { organization: organization({ output_dir: path.join(tmp, 'view'), operation_mode: 'symlink' }), output: output() });
    expect(symPlan.units[0]!.verdict).toBe('in-place');
  });

  it('{model_dir}/organized never nests organized/…/organized on a rerun', () => {
    const root = path.resolve('/lib/lora');
    expect(resolveOutputRoot('{model_dir}/organized', path.join(root, 'a.safetensors'))).toBe(path.join(root, 'organized'));
    expect(resolveOutputRoot('{model_dir}/organized', path.join(root, 'organized', 'LORA', 'x', 'a.safetensors'))).toBe(path.join(root, 'organized'));
    expect(resolveOutputRoot('/abs/out', path.join(root, 'a.safetensors'))).toBe(path.resolve('/abs/out'));
  });

  it('warns about unknown placeholders', () => {
    const [record] = buildLibrary(lib, [{ rel: 'a.safetensors' }]);
    const plan = planOrganization([record!], { organization: organization({ output_dir: path.join(tmp, 'out'), custom_template: '{type}/{colour}' }), output: output() });
    expect(plan.warnings[0]).toContain('{colour}');
    expect(plan.units[0]!.targetDir).toBe(path.join(tmp, 'out', 'LORA', '{colour}'));
  });
});

describe('dry run', () => {
  it('changes nothing on disk: tree checksum before = after (plan, table, dry apply)', async () => {
    const records = buildLibrary(lib, [
      { rel: 'a/alpha.safetensors', companions: ['json', 'preview1.jpeg'], fixture: { creator: '../../escape' } },
      { rel: 'b/beta.safetensors', companions: ['civitai.info', 'preview.png'], fixture: { type: 'Checkpoint' } },
      { rel: 'gamma.safetensors' },
    ]);
    writeFile(path.join(lib, 'organized', 'LORA', 'lrabbit', 'gamma.safetensors'), 'occupied');
    const before = treeChecksum(tmp);
    const journalDir = path.join(tmp, 'journal');
    for (const mode of ['move', 'copy', 'symlink', 'hardlink'] as const) {
      for (const policy of ['skip', 'overwrite', 'fail'] as const) {
        const plan = planOrganization(records, {
          organization: organization({ output_dir: path.join(lib, 'organized'), operation_mode: mode, on_collision: policy, template: 'by_type_and_creator' }),
          output: output(),
        });
        const table = formatPlanTable(plan);
        expect(table).toContain('→');
        const result = await applyPlan(plan, { journalDir, dryRun: true });
        expect(result.dryRun).toBe(true);
        expect(result.runId).toBeUndefined();
        expect(result.counts.planned).toBe(policy === 'overwrite' ? 3 : 2);
      }
    }
    expect(existsSync(journalDir)).toBe(false);
    expect(treeChecksum(tmp)).toBe(before);
  });

  it('prints a table of source → target, action and collision verdict, and writes the plan as JSON', async () => {
    const records = buildLibrary(lib, [{ rel: 'alpha.safetensors', companions: ['json', 'preview1.jpeg'] }, { rel: 'beta.safetensors' }]);
    writeFile(path.join(tmp, 'out', 'LORA', 'beta.safetensors'), 'occupied');
    const plan = planOrganization(records, { organization: organization({ output_dir: path.join(tmp, 'out'), operation_mode: 'copy' }), output: output() });
    const table = formatPlanTable(plan);
    const lines = table.split('\n');
    expect(lines[0]).toContain('copy, on collision: skip, template: {type}');
    expect(lines[1]).toMatch(/^ACTION\s+VERDICT\s+COLLISION\s+SOURCE\s+TARGET$/);
    expect(table).toMatch(new RegExp(`copy\\s+ok\\s+none\\s+${escape(path.join(lib, 'alpha.safetensors'))}\\s+→\\s+${escape(path.join(tmp, 'out', 'LORA', 'alpha.safetensors'))}`));
    expect(table).toMatch(/\+ alpha\.json\s+→\s+\+ alpha\.json/);
    expect(table).toMatch(new RegExp(`-\\s+skip\\s+exists\\s+${escape(path.join(lib, 'beta.safetensors'))}`));
    expect(table).toContain('1 to copy, 0 overwriting, 0 already in place, 1 skipped, 0 failing, 0 not organized');

    const file = path.join(tmp, 'plan.json');
    await writePlanJson(plan, file);
    expect(await readPlanJson(file)).toEqual(JSON.parse(planToJson(plan)));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
