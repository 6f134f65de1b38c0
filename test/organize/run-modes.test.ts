/**
 * Only what was asked moves: `organization.dry_run: true` in the config, and runScanJob's
 * `organize: 'plan'` (what `astro dev` / `astro build` use), plan the organization and leave
 * every model file where it is. The sidecars are still written (that is the scan's job).
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../../src/integration/engine/run.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import { createWorkspace, setupLibrary, type Workspace } from '../support/library.ts';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-org-modes-');
});
afterAll(async () => {
  await workspace.close();
});

const MODEL = ['Lora', 'Semi-realistic illustrious v1.5.safetensors'];

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const logger: Logger = {
    debug: (message) => lines.push({ level: 'debug', message }),
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
  };
  return { logger, lines };
}

describe('organizing only when asked', () => {
  it('organization.dry_run: true plans (and shows the plan) but moves nothing', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'org-dry-run-key', {
      job: { organization: { enabled: true, operation_mode: 'move', output_dir: '{model_dir}/sorted', dry_run: true } },
    });
    const { logger, lines } = recordingLogger();
    const { report, organizePlan, records } = await runScanJob({ config, job, jobName: name, logger });
    expect(organizePlan?.units.length).toBeGreaterThan(0);
    expect(report.organize).toMatchObject({ mode: 'move', done: 0, skipped: 0, failed: 0 });
    expect(report.organize?.planned).toBe(organizePlan?.units.length);
    expect(report.organize?.runId).toBeUndefined();
    expect((await stat(path.join(dir, ...MODEL))).isFile()).toBe(true);
    expect(existsSync(path.join(dir, 'Lora', 'sorted'))).toBe(false);
    expect(existsSync(path.join(config.scanner.cache_dir, 'organize-journal'))).toBe(false);
    expect(records.every((record) => !record.file.path.includes(`${path.sep}sorted${path.sep}`))).toBe(true);
    // The plan is shown (at a level a front end drawing progress still prints), and the report says why nothing moved.
    const shown = lines.find((line) => line.level === 'warn' && line.message.includes('organization.dry_run'));
    expect(shown?.message).toContain(path.join(dir, ...MODEL));
    expect(report.warnings.some((warning) => warning.stage === 'organize' && warning.message.includes('organization.dry_run'))).toBe(true);
  });

  it("runScanJob({ organize: 'plan' }) reports the plan and touches nothing (the site never moves files)", async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'org-plan-only', {
      job: { organization: { enabled: true, operation_mode: 'move', output_dir: '{model_dir}/sorted' } },
    });
    const result = await runScanJob({ config, job, jobName: name, organize: 'plan' });
    expect(result.organizePlan?.units.length).toBeGreaterThan(0);
    const unit = result.organizePlan?.units.find((entry) => entry.files[0]?.source === path.join(dir, ...MODEL));
    expect(unit?.files[0]?.target).toBe(path.join(dir, 'Lora', 'sorted', 'LORA', MODEL[1]!));
    expect(result.report.organize).toMatchObject({ done: 0, failed: 0 });
    expect((await stat(path.join(dir, ...MODEL))).isFile()).toBe(true);
    expect(existsSync(path.join(dir, 'Lora', 'sorted'))).toBe(false);
    expect(existsSync(path.join(config.scanner.cache_dir, 'organize-journal'))).toBe(false);
  });

  it("organize: 'apply' (the default) still organizes", async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'org-apply', {
      job: { organization: { enabled: true, operation_mode: 'move', output_dir: '{model_dir}/sorted' } },
    });
    const { report } = await runScanJob({ config, job, jobName: name, organize: 'apply' });
    expect(report.organize?.done).toBeGreaterThan(0);
    expect(existsSync(path.join(dir, 'Lora', 'sorted', 'LORA', MODEL[1]!))).toBe(true);
    expect(existsSync(path.join(dir, ...MODEL))).toBe(false);
  });
});
