/**
 * The subcommands on the same engine: organize (plan, apply, undo), sync-krita, build, and the
 * library report on a sample library with planted duplicates, changes and orphans.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleInputPaths as libraryPaths } from '../../src/dev/sample-library/index.ts';
import { cli, createCliWorkspace, libraryCopy, readJson, treeDigest, writeConfig, type CliWorkspace } from './helpers.ts';

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await createCliWorkspace('cs-cli-cmd-');
});
afterAll(async () => {
  await ws.close();
});

describe('civitscraper organize', () => {
  async function organizeSetup(name: string, organization: Record<string, unknown>) {
    const copy = await libraryCopy(ws, name, {
      inputs: ['embeddings', 'checkpoints'],
      extra: {
        jobs: {
          main: {
            type: 'scan-paths',
            paths: ['embeddings'],
            organization: { template: 'by_type', output_dir: path.join(ws.root, name, 'Organized'), operation_mode: 'move', ...organization },
          },
          krita: { type: 'sync-lora-triggers', paths: ['embeddings'], loras_file: path.join(ws.root, name, 'loras.json') },
        },
        default_job: 'main',
      },
    });
    return copy;
  }
  const model = (dir: string) => path.join(dir, 'Embeddings', 'negative', 'verybadimagenegative_v1.3.pt');
  const organized = (dir: string) => path.join(dir, 'Organized', 'TextualInversion', 'verybadimagenegative_v1.3.pt');

  it('--dry-run shows the plan as a table, writes it as JSON beside the state store, and moves nothing', async () => {
    const { dir, file } = await organizeSetup('org-dry', { enabled: true });
    // A first scan so the sidecars exist; the dry run must not touch anything after it.
    expect((await cli(ws, ['-c', file, '-q'])).code).toBe(0);
    // (the first scan organized already: undo it to have something to plan)
    expect((await cli(ws, ['organize', '-c', file, '--undo', '-q'])).code).toBe(0);
    expect(existsSync(model(dir))).toBe(true);
    const before = await treeDigest(dir);
    const result = await cli(ws, ['organize', '-c', file, '--dry-run', '--report', path.join(ws.root, 'org-dry.json')]);
    expect(result.code).toBe(0);
    // The plan is the result (stdout, so `> plan.txt` keeps it); the logs stay on stderr.
    expect(result.stdout).toMatch(/ACTION\s+VERDICT\s+COLLISION\s+SOURCE/);
    expect(result.stdout).toContain(`${model(dir)}  →  ${organized(dir)}`);
    expect(result.stderr).not.toMatch(/ACTION\s+VERDICT/);
    expect(await treeDigest(dir)).toEqual(before);
    const report = await readJson(path.join(ws.root, 'org-dry.json'));
    expect(report.dryRun).toBe(true);
    expect(report.organize.planned).toBe(1);
    expect(report.organize.planFile).toBe(path.join(dir, '.cache', 'organize-plan-main.json'));
    const plan = await readJson(report.organize.planFile);
    expect(plan.units[0].files[0]).toMatchObject({ role: 'model', source: model(dir), target: organized(dir) });
  });

  it('organizes (move), prints how to undo, and --undo puts every file back; --undo RUN for an unknown run exits 2', async () => {
    const { dir, file } = await organizeSetup('org-move', { enabled: true });
    const pristine = await treeDigest(path.join(dir, 'Embeddings'));
    const result = await cli(ws, ['organize', '-c', file, '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.command).toBe('organize');
    expect(report.organize).toMatchObject({ mode: 'move', planned: 1, done: 1, failed: 0 });
    expect(report.organize.runId).toMatch(/\S/);
    expect(result.stderr).toContain(`civitscraper organize --undo ${report.organize.runId}`);
    expect(existsSync(organized(dir))).toBe(true);
    expect(existsSync(model(dir))).toBe(false);

    expect((await cli(ws, ['organize', '-c', file, '--undo', 'no-such-run'])).code).toBe(2);
    const undo = await cli(ws, ['organize', '-c', file, `--undo=${report.organize.runId}`, '--json']);
    expect(undo.code).toBe(0);
    expect(JSON.parse(undo.stdout)).toMatchObject({ undoneRunId: report.organize.runId, problems: [] });
    expect(existsSync(model(dir))).toBe(true);
    expect(existsSync(organized(dir))).toBe(false);
    // Sidecars and previews came back with the model (the scan wrote them beside it).
    const restored = await treeDigest(path.join(dir, 'Embeddings'));
    expect(Object.keys(restored).filter((name) => name.startsWith('negative/verybadimagenegative_v1.3.')).length).toBeGreaterThan(2);
    for (const [name, digest] of Object.entries(pristine)) expect(restored[name], name).toBe(digest);
    // Nothing left to undo.
    expect((await cli(ws, ['organize', '-c', file, '--undo'])).code).toBe(2);
  });

  it('refuses to organize a job whose organization is not enabled (exit 2), but previews it with --dry-run', async () => {
    const { dir, file } = await organizeSetup('org-off', { enabled: false });
    const before = await treeDigest(dir);
    const refused = await cli(ws, ['organize', '-c', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('organization.enabled');
    expect(await treeDigest(dir)).toEqual(before);
    const preview = await cli(ws, ['organize', '-c', file, '--dry-run', '--json']);
    expect(preview.code).toBe(0);
    expect(JSON.parse(preview.stdout).organize.planned).toBe(1);
    expect(await treeDigest(dir)).toEqual(before);
    // A sync job is not something to organize.
    expect((await cli(ws, ['organize', '-c', file, '-j', 'krita'])).code).toBe(2);
  });
});

describe('civitscraper sync-krita', () => {
  const lorasJson = (ids: string[]) => `${JSON.stringify(ids.map((id) => ({ id, name: path.basename(id) })), null, 2)}\n`;

  it('writes trigger words into --loras-file from the sidecars (dry run first: a diff, nothing written)', async () => {
    const { dir, file } = await libraryCopy(ws, 'krita', { inputs: ['loras'] });
    expect((await cli(ws, ['-c', file, '-q'])).code).toBe(1); // the broken sample files
    const loras = path.join(dir, 'loras.json');
    const original = lorasJson(['Flux/Vivid Impressions Storybook.safetensors', 'not/ours.safetensors']);
    await writeFile(loras, original);

    const dry = await cli(ws, ['sync-krita', '-c', file, '--loras-file', loras, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^\+.*lora_triggers/m);
    expect(dry.stderr).not.toMatch(/^\+.*lora_triggers/m);
    expect(await readFile(loras, 'utf8')).toBe(original);

    const report = path.join(dir, 'krita-report.json');
    const real = await cli(ws, ['sync-krita', '-c', file, '--loras-file', loras, '--report', report, '-q']);
    expect(real.code).toBe(0);
    const written = JSON.parse(await readFile(loras, 'utf8')) as Array<{ id: string; metadata?: { lora_triggers?: string } }>;
    expect(written[0]?.metadata?.lora_triggers).toMatch(/\S/);
    expect(written[1]?.metadata).toBeUndefined();
    const json = await readJson(report);
    expect(json.type).toBe('sync-lora-triggers');
    expect(json.krita).toMatchObject({ lorasFile: loras, outcome: 'written', dryRun: false });
    expect(json.krita.counts).toMatchObject({ entries: 2, matched: 1, updated: 1, unmatched: 1 });
    expect(existsSync(json.krita.backupPath)).toBe(true);
  });

  it('runs the config\'s sync-lora-triggers job; without one and without a loras.json anywhere exits 2', async () => {
    const { dir, file } = await libraryCopy(ws, 'krita-job', { inputs: ['loras'] });
    expect((await cli(ws, ['-c', file, '-q'])).code).toBe(1);
    const missing = await cli(ws, ['sync-krita', '-c', file]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no Krita AI Diffusion loras.json found');

    const loras = path.join(dir, 'krita', 'loras.json');
    await mkdir(path.dirname(loras), { recursive: true });
    await writeFile(loras, lorasJson(['SD15/VSK-94 \'Girls\' Frontline\'.safetensors']));
    const config = await readFile(file, 'utf8');
    await writeFile(file, `${config}jobs:\n  scan:\n    type: scan-paths\n  triggers:\n    type: sync-lora-triggers\n    loras_file: ${loras}\n`);
    const result = await cli(ws, ['sync-krita', '-c', file, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ job: 'triggers', krita: { outcome: 'written' } });
    // --all-jobs on the default command runs both, in order, the sync too.
    const all = await cli(ws, ['-c', file, '--all-jobs', '--json', '-q']);
    const jobs = JSON.parse(all.stdout).jobs as Array<{ job: string; type: string; krita?: { outcome: string } }>;
    expect(jobs.map((job) => [job.job, job.type])).toEqual([['scan', 'scan-paths'], ['triggers', 'sync-lora-triggers']]);
    expect(jobs[1]?.krita?.outcome).toBe('unchanged');
  });
});

describe('civitscraper build', () => {
  it('runs the scan, then builds the site into --out (and --dry-run builds nothing)', async () => {
    const { dir, file } = await libraryCopy(ws, 'build', { inputs: ['embeddings'] });
    const out = path.join(dir, 'site');
    const dry = await cli(ws, ['build', '-c', file, '--out', out, '--dry-run', '--json', '-q']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).site).toEqual({ built: false });
    expect(existsSync(out)).toBe(false);

    const result = await cli(ws, ['build', '-c', file, '--out', out, '--astro-cache', path.join(dir, 'astro-cache'), '--json'], { cwd: dir });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.site).toEqual({ built: true, outDir: out });
    expect(report.api.identified).toBe(1);
    const index = await readFile(path.join(out, 'index.html'), 'utf8');
    expect(index).toContain('verybadimagenegative');
  });
});

describe('the default command and the site (the seed wrote its pages and gallery on every scan)', () => {
  it('builds the site when HTML output is on, copies it to gallery_path, and says where; --no-site and html.enabled: false build none', async () => {
    const { dir, file } = await libraryCopy(ws, 'scan-site', {
      inputs: ['embeddings'],
      extra: { output: { metadata: { html: { gallery_path: 'my-gallery.html' } } } },
    });
    const result = await cli(ws, ['-c', file, '--site', '--json'], { cwd: dir });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    const site = path.join(dir, '.cache', 'site');
    expect(report.site).toEqual({ built: true, outDir: site, galleryPath: path.join(dir, 'my-gallery.html') });
    expect(await readFile(path.join(site, 'index.html'), 'utf8')).toContain('verybadimagenegative');
    // The seed user's bookmark opens the copy.
    expect(await readFile(path.join(dir, 'my-gallery.html'), 'utf8')).toContain('my-gallery-site/index.html');
    expect(existsSync(path.join(dir, 'my-gallery-site', 'index.html'))).toBe(true);
    expect(result.stderr).toContain(`site built in ${site}; open ${path.join(dir, 'my-gallery.html')}`);

    const noSite = await cli(ws, ['-c', file, '--no-site', '--json'], { cwd: dir });
    expect(JSON.parse(noSite.stdout).site).toBeUndefined();

    await writeConfig(file, {
      api: { base_url: ws.fake.apiBaseUrl, max_retries: 1 },
      input_paths: { embeddings: libraryPaths(dir).embeddings },
      scanner: { cache_dir: path.join(dir, '.cache-off') },
      output: { metadata: { html: { enabled: false } } },
    });
    const off = await cli(ws, ['-c', file, '--site', '--json'], { cwd: dir });
    expect(off.code).toBe(0);
    expect(JSON.parse(off.stdout).site).toBeUndefined();
    expect(existsSync(path.join(dir, '.cache-off', 'site'))).toBe(false);
  });

  it('generate_gallery: false leaves gallery_path alone', async () => {
    const { dir, file } = await libraryCopy(ws, 'scan-no-gallery', {
      inputs: ['embeddings'],
      extra: { output: { metadata: { html: { gallery_path: 'g.html', generate_gallery: false } } } },
    });
    const result = await cli(ws, ['-c', file, '--site', '--json'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).site).toMatchObject({ built: true });
    expect(existsSync(path.join(dir, 'g.html'))).toBe(false);
    expect(existsSync(path.join(dir, 'g-site'))).toBe(false);
  });

  it('a gallery_path that cannot be written fails the run (exit 1) and leaves the files there alone', async () => {
    const { dir, file } = await libraryCopy(ws, 'scan-gallery-taken', {
      inputs: ['embeddings'],
      extra: { output: { metadata: { html: { gallery_path: 'taken' } } } },
    });
    // A folder of the user's own, not one the site was written to before.
    await mkdir(path.join(dir, 'taken'), { recursive: true });
    await writeFile(path.join(dir, 'taken', 'notes.txt'), 'mine\n');
    const result = await cli(ws, ['-c', file, '--site', '--json'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(dir, 'taken')} already holds other files`);
    expect(result.stderr).toContain('gallery_path');
    expect(JSON.parse(result.stdout).site).toMatchObject({ built: false });
    expect(await readdir(path.join(dir, 'taken'))).toEqual(['notes.txt']);
    expect(await readFile(path.join(dir, 'taken', 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('--unreadable warn: a library that merely holds unreadable files exits 0, and still lists them', async () => {
    const { file } = await libraryCopy(ws, 'unreadable');
    const strict = await cli(ws, ['-c', file, '--json']);
    expect(strict.code).toBe(1);
    const lenient = await cli(ws, ['-c', file, '--json', '--unreadable', 'warn']);
    expect(lenient.code).toBe(0);
    const report = JSON.parse(lenient.stdout);
    expect(report.files.failed).toBe(4);
    expect(report.errors.map((entry: { stage: string }) => entry.stage).sort()).toEqual(['discover', 'hash', 'hash', 'hash']);
    expect((await cli(ws, ['-c', file, '--unreadable', 'maybe'])).code).toBe(2);
  });
});

describe('civitscraper report (the library report)', () => {
  it('finds duplicates, unidentified files, newer versions, changed files and orphan sidecars, offline', async () => {
    const { dir, file } = await libraryCopy(ws, 'library-report');
    expect((await cli(ws, ['-c', file, '-q'])).code).toBe(1);
    const lora = (name: string) => path.join(dir, 'Lora', name);

    // Same bytes in two places.
    const vivid = lora('Flux/Vivid Impressions Storybook.safetensors');
    const vividCopy = lora('copies/vivid copy.safetensors');
    await mkdir(path.dirname(vividCopy), { recursive: true });
    await copyFile(vivid, vividCopy);

    // Another file (other bytes) with the sidecar of an identified version: same version, different file.
    const pixel = lora('Flux/Vivid Impressions Storybook (pruned).safetensors');
    const vividSidecar = JSON.parse(await readFile(lora('Flux/Vivid Impressions Storybook.json'), 'utf8'));
    const bytes = Buffer.concat([await readFile(vivid), Buffer.from('pruned')]);
    await writeFile(pixel, bytes);
    const info = await stat(pixel);
    vividSidecar.civitscraper.file = { name: path.basename(pixel), size: info.size, mtimeMs: info.mtimeMs };
    vividSidecar.civitscraper.hashes = { SHA256: createHash('sha256').update(bytes).digest('hex').toUpperCase() };
    await writeFile(lora('Flux/Vivid Impressions Storybook (pruned).json'), JSON.stringify(vividSidecar));

    // A file changed after it was identified (same size, new bytes).
    const changed = path.join(dir, 'Checkpoint', 'SD1.5', 'synthwavepunk_v3Alpha.safetensors');
    const content = await readFile(changed);
    content.writeUInt8((content.readUInt8(content.length - 3) ^ 0xff) & 0xff, content.length - 3);
    await writeFile(changed, content);
    await utimes(changed, new Date(), new Date(Date.now() - 60_000));

    // Orphan sidecars: a model deleted, and a stray copy of a sidecar.
    await rm(lora("SD15/VSK-94 'Girls' Frontline'.safetensors"));
    await copyFile(lora('Semi-realistic illustrious v1.5.json'), lora('old name.json'));

    const before = await treeDigest(dir);
    ws.fake.requests.length = 0;
    const reportFile = path.join(dir, 'library.json');
    const result = await cli(ws, ['report', '-c', file, '--report', reportFile]);
    // Unreadable sample files are failures, as in a scan.
    expect(result.code).toBe(1);
    expect(ws.fake.requests).toHaveLength(0);
    expect(await treeDigest(dir)).toEqual({ ...before, 'library.json': expect.any(String) });
    const report = await readJson(reportFile);
    expect(report.command).toBe('report');

    expect(report.duplicates.sameHash).toEqual([expect.objectContaining({ paths: [vivid, vividCopy].sort() })]);
    expect(report.duplicates.sameVersion).toEqual([
      expect.objectContaining({ versionId: 1387174, files: expect.arrayContaining([expect.objectContaining({ path: vivid }), expect.objectContaining({ path: pixel })]) }),
    ]);
    const unidentified = report.unidentified.map((entry: { path: string }) => entry.path);
    for (const entry of ws.library.entries.filter((candidate) => candidate.kind === 'unknown')) {
      expect(unidentified).toContain(path.join(dir, entry.relativePath));
    }
    expect(report.newerVersions).toEqual([
      expect.objectContaining({
        path: lora('SDXL/styles/semi_realistic V1 (old).safetensors'),
        current: expect.objectContaining({ id: 1788945, baseModel: 'Illustrious' }),
        newer: [expect.objectContaining({ id: 1967584, localPath: lora('Semi-realistic illustrious v1.5.safetensors') })],
      }),
    ]);
    expect(report.hashMismatches).toEqual([expect.objectContaining({ path: changed, sizeChanged: false })]);
    expect(report.hashMismatches[0].fileSha256).not.toBe(report.hashMismatches[0].sidecarSha256);
    expect(report.orphanSidecars.map((entry: { path: string }) => entry.path).sort()).toEqual(
      [lora("SD15/VSK-94 'Girls' Frontline'.json"), lora('old name.json')].sort(),
    );
    expect(report.unreadable.map((entry: { path: string }) => path.basename(entry.path)).sort()).toEqual(
      ['broken link.safetensors', 'empty.safetensors', 'not json #2.safetensors', 'truncated header.safetensors'],
    );
    // The same, for people, on stdout.
    for (const heading of ['Duplicates: the same file in several places (1)', 'same CivitAI version in different files (1)', 'Newer versions of the same family (base model and variant) (1)', 'hash mismatch) (1)', 'Orphan sidecars', 'Unidentified files']) {
      expect(result.stdout).toContain(heading);
    }
    expect(result.stdout).toContain(vividCopy);
  });
});
