/**
 * `civitscraper organize --list` and `--undo` after a rerun that changed nothing; a config
 * that says `organization.dry_run: true` never moves a file, whatever the command. Runs the
 * compiled CLI (`npm run compile` first).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, createCliWorkspace, libraryCopy, treeDigest, type CliWorkspace } from './helpers.ts';

let ws: CliWorkspace;
beforeAll(async () => {
  ws = await createCliWorkspace('cs-cli-org-runs-');
});
afterAll(async () => {
  await ws.close();
});

async function setup(name: string, organization: Record<string, unknown>) {
  return libraryCopy(ws, name, {
    inputs: ['embeddings'],
    extra: {
      jobs: {
        main: {
          type: 'scan-paths',
          paths: ['embeddings'],
          organization: { enabled: true, template: 'by_type', output_dir: path.join(ws.root, name, 'Organized'), operation_mode: 'move', ...organization },
        },
      },
    },
  });
}
const model = (dir: string) => path.join(dir, 'Embeddings', 'negative', 'verybadimagenegative_v1.3.pt');
const organized = (dir: string) => path.join(dir, 'Organized', 'TextualInversion', 'verybadimagenegative_v1.3.pt');

describe('civitscraper organize --undo / --list', () => {
  it('--undo after an empty rerun undoes the run that moved the files; --list shows the runs newest first', async () => {
    const { dir, file } = await setup('runs', {});
    const first = await cli(ws, ['organize', '-c', file, '--json']);
    expect(first.code).toBe(0);
    const firstId = JSON.parse(first.stdout).organize.runId as string;
    expect(existsSync(organized(dir))).toBe(true);
    // Rerun: everything is in place, nothing changes.
    const rerun = await cli(ws, ['organize', '-c', file, '--json']);
    expect(rerun.code).toBe(0);
    const rerunId = JSON.parse(rerun.stdout).organize.runId as string;
    expect(rerunId).not.toBe(firstId);

    const dry = await cli(ws, ['organize', '-c', file, '--undo', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(firstId);
    const undo = await cli(ws, ['organize', '-c', file, '--undo', '--json']);
    expect(undo.code).toBe(0);
    const undone = JSON.parse(undo.stdout);
    expect(undone.undoneRunId).toBe(firstId);
    expect(undone.reversed).toBeGreaterThan(0);
    expect(existsSync(model(dir))).toBe(true);
    expect(existsSync(organized(dir))).toBe(false);

    const list = await cli(ws, ['organize', '-c', file, '--list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    const at = (id: string) => lines.findIndex((line) => line.startsWith(id));
    expect(at(undone.runId)).toBeGreaterThan(0);
    expect(at(undone.runId)).toBeLessThan(at(rerunId));
    expect(at(rerunId)).toBeLessThan(at(firstId));
    expect(lines[at(firstId)]).toMatch(/\bmove\b/);
    expect(lines[at(firstId)]).toMatch(/undone/);
    expect(lines[at(rerunId)]).not.toMatch(/undone/);
    expect(lines[0]).toMatch(/RUN\s+STARTED/);

    const json = await cli(ws, ['organize', '-c', file, '--list', '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.runs.map((run: { runId: string }) => run.runId)).toEqual([undone.runId, rerunId, firstId]);
    expect(report.runs[2]).toMatchObject({ kind: 'organize', mode: 'move', counts: { moved: 1, copied: 0, linked: 0, failed: 0 }, undone: true });
    expect(report.runs[1]).toMatchObject({ counts: { moved: 0, copied: 0, linked: 0, failed: 0 }, undone: false });

    // --list belongs to organize and does not mix with --undo.
    expect((await cli(ws, ['scan', '-c', file, '--list'])).code).toBe(2);
    expect((await cli(ws, ['organize', '-c', file, '--list', '--undo'])).code).toBe(2);
  });

  it('organization.dry_run: true in the config: `organize` and `scan` show the plan and move nothing', async () => {
    const { dir, file } = await setup('dry-key', { dry_run: true });
    const before = await treeDigest(path.join(dir, 'Embeddings'));
    const organizeRun = await cli(ws, ['organize', '-c', file]);
    expect(organizeRun.code).toBe(0);
    expect(organizeRun.stderr).toContain('organization.dry_run');
    expect(organizeRun.stderr).toContain(`${model(dir)}  →  ${organized(dir)}`);
    expect(organizeRun.stderr).not.toMatch(/has no effect/);
    const scanRun = await cli(ws, ['-c', file]);
    expect(scanRun.code).toBe(0);
    expect(existsSync(model(dir))).toBe(true);
    expect(existsSync(path.join(dir, 'Organized'))).toBe(false);
    // Only the scan's own sidecars were added beside the model; nothing moved.
    const after = await treeDigest(path.join(dir, 'Embeddings'));
    for (const name of Object.keys(before)) expect(after[name], name).toBeDefined();
  });
});
