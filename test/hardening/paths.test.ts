/**
 * Paths suite: text that comes from CivitAI (model and version names, creators, base models,
 * types, dates, tags, image URLs) and odd local file names must never make us write outside
 * the configured folders, nor create names a filesystem refuses or a person cannot see.
 *
 * 1. `planOrganization` over records carrying every payload, with every built-in template and
 *    a custom one using every placeholder: each target stays inside its output root, and each
 *    folder segment is clean; the plan for one template is applied and the disk checked.
 * 2. `resolveSidecarLayout` with hostile file names, input path ids and folders, beside the
 *    model and with a central `base_dir`: every path stays inside the model's folder / base_dir.
 * 3. End to end: the fake CivitAI serves bodies whose every text field is a payload; the engine
 *    identifies, downloads previews, writes sidecars and organizes (copy): afterwards nothing
 *    exists outside the library, and no file named after a payload exists anywhere.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { ORGANIZATION_TEMPLATES } from '../../src/integration/engine/config/schema.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { applyPlan, planOrganization } from '../../src/integration/engine/organize/index.ts';
import { resolveSidecarLayout } from '../../src/integration/engine/sidecars/paths.ts';
import type { LocalFile } from '../../src/integration/engine/records/schema.ts';
import { makeRecord, organization, output, writeFile } from '../organize/helpers.ts';
import {
  copyLibrary,
  createHardeningWorkspace,
  fastApi,
  figures,
  identifiedEntries,
  poisonedFixtures,
  readTree,
  type HardeningWorkspace,
} from './helpers.ts';

const TOKEN = `pwned-${process.pid}-${Date.now().toString(36)}`;

/** What a hostile API could put in any text field that ends up in a path. */
const PAYLOADS = [
  `../../../../../../../../tmp/${TOKEN}`,
  `/tmp/${TOKEN}-absolute`,
  `..`,
  `.`,
  `...`,
  `a/../../${TOKEN}-climb`,
  `..\\..\\..\\${TOKEN}-backslash`,
  `C:\\Windows\\System32\\${TOKEN}`,
  `\\\\server\\share\\${TOKEN}`,
  `~/${TOKEN}-home`,
  `%2e%2e%2f%2e%2e%2f${TOKEN}-encoded`,
  `CON`,
  `nul.txt`,
  `com1`,
  `LPT9.safetensors`,
  `conin$`,
  `bell\u0007 escape\u001b[31m null-free controls\u0001\u001f del\u007f c1\u0085`,
  `line\nbreak\rand\ttab`,
  `trailing dots and spaces. . .  `,
  `   leading spaces`,
  `.hidden`,
  `\u202egnp.exe`,
  `x`.repeat(300),
  `🙂`.repeat(80),
  `<>:"|?*`,
  `{creator}/{model_name}/..`,
  `$(touch /tmp/${TOKEN}-shell)`,
  `\`id\``,
];

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

/** Problems with one folder or file name we would create. */
function segmentProblems(segment: string): string[] {
  const out: string[] = [];
  if (segment === '' || segment === '.' || segment === '..') out.push('empty or dot');
  if (/[/\\]/.test(segment)) out.push('separator');
  if (/[\u0000-\u001f\u007f-\u009f]/.test(segment)) out.push('control character');
  if (/[\u202a-\u202e\u2066-\u2069]/.test(segment)) out.push('bidi override');
  if (/[<>:"|?*]/.test(segment)) out.push('character Windows refuses');
  if (RESERVED.test(segment.split('.')[0] ?? '') || RESERVED.test(segment)) out.push('Windows device name');
  if (/[ .]$/.test(segment)) out.push('trailing dot or space');
  if (Buffer.byteLength(segment) > 255) out.push('longer than 255 bytes');
  return out;
}

function inside(root: string, file: string): boolean {
  const relative = path.relative(path.resolve(root), path.resolve(file));
  return relative === '' || (!path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..');
}

/**
 * Files named after a payload where a climbing or absolute payload would land: every ancestor
 * of the workspace, the temp folders, home and the working directory (one level each; inside
 * the workspace, "created outside the allowed folders" is checked file by file).
 */
function escapedPayloads(): string[] {
  const places = new Set<string>(['/tmp', tmpdir(), '/dev/shm', homedir(), process.cwd()]);
  for (let dir = path.dirname(ws.root); ; dir = path.dirname(dir)) {
    places.add(dir);
    if (dir === path.dirname(dir)) break;
  }
  const found: string[] = [];
  for (const place of places) {
    if (!existsSync(place)) continue;
    for (const name of readdirSync(place)) if (name.includes(TOKEN)) found.push(path.join(place, name));
  }
  return found;
}

let ws: HardeningWorkspace;
beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-paths-');
});
afterAll(async () => {
  await ws?.close();
  expect(escapedPayloads()).toEqual([]);
});

describe('organize: remote text never leaves the organized tree', () => {
  it('every payload × every template plans inside the output root with clean segments', () => {
    const root = path.join(ws.root, 'plan');
    const libraryDir = path.join(root, 'library');
    const records = PAYLOADS.map((payload, index) => {
      const file = path.join(libraryDir, `model-${index}.safetensors`);
      writeFile(file, `model ${index}`);
      return makeRecord({
        path: file,
        root: libraryDir,
        modelName: payload,
        versionName: payload,
        creator: payload,
        baseModel: payload,
        type: payload,
        createdAt: payload,
        versionId: 1000 + index,
        modelId: 2000 + index,
        sha256: `${String(index).padStart(2, '0')}${'A'.repeat(62)}`,
        size: `model ${index}`.length,
      });
    });
    const templates = [
      ...Object.values(ORGANIZATION_TEMPLATES),
      '{creator}/{model_name}/{base_model}/{version_name}/{type}/{model_type}/{year}/{month}/{day}/{nsfw}/{model_id}/{version_id}',
      '../{creator}/../{model_name}',
      '/{creator}/./{model_name}',
    ];
    const outputDirs = [path.join(root, 'organized'), '{model_dir}/organized'];
    let targets = 0;
    let segments = 0;
    const problems: string[] = [];
    for (const template of templates) {
      for (const outputDir of outputDirs) {
        let plan;
        try {
          plan = planOrganization(records, { organization: organization({ output_dir: outputDir, custom_template: template, operation_mode: 'copy' }), output: output() });
        } catch (error) {
          problems.push(`${template} → ${outputDir}: planning threw ${(error as Error).message}`);
          continue;
        }
        for (const unit of plan.units) {
          for (const file of unit.files) {
            targets += 1;
            if (!inside(unit.outputRoot, file.target)) problems.push(`${template}: ${file.target} is outside ${unit.outputRoot}`);
            const expectedRoot = outputDir.includes('{model_dir}') ? path.join(libraryDir, 'organized') : path.join(root, 'organized');
            if (path.resolve(unit.outputRoot) !== path.resolve(expectedRoot)) problems.push(`${template}: output root ${unit.outputRoot}`);
            for (const segment of path.relative(unit.outputRoot, path.dirname(file.target)).split(path.sep).filter(Boolean)) {
              segments += 1;
              for (const problem of segmentProblems(segment)) problems.push(`${template}: segment ${JSON.stringify(segment)}: ${problem}`);
            }
          }
        }
      }
    }
    figures('paths', 'organize plans', { payloads: PAYLOADS.length, templates: templates.length, outputDirs: outputDirs.length, targetsChecked: targets, segmentsChecked: segments, problems: problems.length });
    expect(problems.slice(0, 20)).toEqual([]);
  });

  it('applying the every-placeholder plan (copy) creates files only inside the organized folder', async () => {
    const root = path.join(ws.root, 'apply');
    const libraryDir = path.join(root, 'library');
    const records = PAYLOADS.map((payload, index) => {
      const file = path.join(libraryDir, `model-${index}.safetensors`);
      writeFile(file, `model ${index}`);
      return makeRecord({ path: file, root: libraryDir, modelName: payload, creator: payload, baseModel: payload, versionName: payload, versionId: 1000 + index, modelId: 2000 + index });
    });
    const before = new Set((await readTree(ws.root)).keys());
    const plan = planOrganization(records, {
      organization: organization({ output_dir: path.join(root, 'organized'), custom_template: '{creator}/{model_name}/{base_model}/{version_name}', operation_mode: 'copy' }),
      output: output(),
    });
    const journalDir = path.join(root, 'journal');
    mkdirSync(journalDir, { recursive: true });
    const result = await applyPlan(plan, { journalDir });
    const created = [...(await readTree(ws.root)).keys()].filter((relative) => !before.has(relative)).map((relative) => path.join(ws.root, relative));
    const outside = created.filter((file) => !inside(path.join(root, 'organized'), file) && !inside(journalDir, file));
    figures('paths', 'organize apply (copy)', { units: plan.units.length, done: result.counts.done, filesCreated: created.length, outside: outside.length });
    expect(result.counts.done).toBe(PAYLOADS.length);
    expect(outside).toEqual([]);
    expect(escapedPayloads()).toEqual([]);
  });
});

describe('sidecar layout: odd local names never point outside the model folder or base_dir', () => {
  it('stems, input path ids and folders with hostile characters', () => {
    const stems = ['CON', 'nul', 'a\\..\\..\\b', 'x'.repeat(240), 'ctrl\u0001\u001f', 'bidi\u202eexe', '~', '$HOME', '{model_name}', '{model_dir}', 'name.with.dots.', ' spaced '];
    const inputIds = ['loras', '../../etc', '/absolute', '..', '.', 'CON', 'a\\b', '{model_dir}'];
    const folders = ['', 'sub', 'sub/deeper', 'back\\slash', 'ctrl\u0001', 'CON/aux', '...'];
    const base = path.join(ws.root, 'layout');
    const modelRoot = path.join(base, 'models');
    const central = path.join(base, 'central');
    const outputs = [
      { name: 'beside the model', config: output(), root: (file: LocalFile) => path.dirname(file.path) },
      { name: 'base_dir', config: output({ base_dir: central }), root: () => central },
      {
        name: 'templates below the model folder',
        config: output({ metadata: { path: '{model_dir}/meta/{model_type}', filename: '{model_name}.civitai.json' }, images: { path: '{model_dir}/previews/{model_name}' } }),
        root: (file: LocalFile) => path.dirname(file.path),
      },
    ];
    let checked = 0;
    const problems: string[] = [];
    for (const stem of stems) {
      for (const inputPathId of inputIds) {
        for (const folder of folders) {
          const name = `${stem}.safetensors`;
          const relativePath = folder ? `${folder}/${name}` : name;
          const file: LocalFile = {
            path: path.join(modelRoot, ...relativePath.split('/')),
            inputPathId,
            inputType: 'LORA',
            relativePath,
            folder,
            name,
            stem,
            ext: '.safetensors',
            size: 1,
            mtimeMs: 0,
          };
          for (const variant of outputs) {
            const layout = resolveSidecarLayout(file, variant.config);
            const root = variant.root(file);
            const paths = {
              metadata: layout.metadataPath,
              images: layout.imagesDir,
              compat: layout.compatDir,
              civitaiInfo: layout.civitaiInfoPath,
              a1111: layout.a1111Path,
              webuiPreview: layout.webuiPreviewPath('.png'),
              preview: path.join(layout.imagesDir, layout.previewName(3, '.jpeg')),
              still: path.join(layout.imagesDir, layout.previewName(3, '.still.jpeg')),
            };
            for (const [what, target] of Object.entries(paths)) {
              checked += 1;
              if (!inside(root, target)) problems.push(`${variant.name}: ${what} ${target} is outside ${root} (stem ${JSON.stringify(stem)}, id ${JSON.stringify(inputPathId)}, folder ${JSON.stringify(folder)})`);
            }
            if (/[/\\]/.test(layout.previewName(1, '.png').replace(stem, ''))) problems.push(`previewName has a separator: ${layout.previewName(1, '.png')}`);
          }
        }
      }
    }
    figures('paths', 'sidecar layouts', { stems: stems.length, inputPathIds: inputIds.length, folders: folders.length, layouts: outputs.length, pathsChecked: checked, problems: problems.length });
    expect(problems.slice(0, 20)).toEqual([]);
  });
});

describe('end to end with a hostile API', () => {
  it('poisoned names, creators, tags, base models, dates and image URLs: identified, organized, and nothing written outside the library', async () => {
    let n = 0;
    const next = () => PAYLOADS[n++ % PAYLOADS.length] as string;
    const fixturesDir = await poisonedFixtures(path.join(ws.root, 'poisoned-fixtures'), (object) => {
      for (const key of ['name', 'baseModel', 'username']) if (typeof object[key] === 'string') object[key] = next();
      if (Array.isArray(object.tags)) object.tags = object.tags.map((tag) => (typeof tag === 'string' ? next() : { ...(tag as object), name: next() }));
      if (Array.isArray(object.trainedWords)) object.trainedWords = object.trainedWords.map(() => next());
      if (typeof object.createdAt === 'string' && n % 3 === 0) object.createdAt = next();
      if (typeof object.url === 'string' && /image(cache)?\.civitai\.com/.test(object.url)) {
        // Keep the uuid (the fake CDN serves by it); replace the file name with a climbing one.
        object.url = object.url.replace(/\/[^/]*$/, `/..%2F..%2F..%2F..%2F${encodeURIComponent(TOKEN)}.jpeg`);
      }
    });
    const poisoned = await startFakeCivitai({ library: ws.library, fixturesDir });
    try {
      const setup = await copyLibrary(ws, 'hostile', {
        api: { ...fastApi(ws), base_url: poisoned.apiBaseUrl },
        job: {
          output: { images: { max_count: 2, width: 96 } },
          organization: {
            enabled: true,
            operation_mode: 'copy',
            custom_template: '{creator}/{model_name}/{base_model}/{version_name}/{type}/{year}/{month}',
          },
        },
      });
      const outsideBefore = new Set((await readTree(ws.root)).keys());
      const { records, report } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
      const identified = records.filter((record) => record.civitai.status === 'identified');
      expect(identified.length).toBe(identifiedEntries(ws.library).length);
      // The payloads really went through: names and creators on the records are hostile.
      const hostile = identified.filter((record) => PAYLOADS.includes(record.model?.name ?? record.version?.name ?? ''));
      expect(hostile.length).toBeGreaterThan(0);
      expect(report.organize?.done).toBeGreaterThan(0);

      const created = [...(await readTree(ws.root)).keys()].filter((relative) => !outsideBefore.has(relative)).map((relative) => path.join(ws.root, relative));
      const outside = created.filter((file) => !inside(setup.dir, file));
      const organizedFiles = created.filter((file) => file.includes(`${path.sep}organized${path.sep}`));
      const badSegments: string[] = [];
      for (const file of organizedFiles) {
        const relative = path.relative(setup.dir, file).split(path.sep);
        const at = relative.indexOf('organized');
        for (const segment of relative.slice(at + 1, -1)) for (const problem of segmentProblems(segment)) badSegments.push(`${segment}: ${problem}`);
      }
      figures('paths', 'end to end with poisoned API bodies', {
        payloadsServed: n,
        identified: identified.length,
        organized: report.organize?.done,
        filesCreated: created.length,
        organizedFiles: organizedFiles.length,
        outside: outside.length,
        badSegments: badSegments.length,
      });
      expect(outside).toEqual([]);
      expect(badSegments).toEqual([]);
      expect(organizedFiles.length).toBeGreaterThan(0);
      expect(escapedPayloads()).toEqual([]);
    } finally {
      await poisoned.close();
    }
  });
});
