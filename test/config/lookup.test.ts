/** Where the config file is looked for, in which order, and what happens when it is not there. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { configSearchPaths, loadConfig } from '../../src/integration/engine/config/index.ts';
import { configErrorAsync } from './helpers.ts';

let root: string;
let cwd: string;
let home: string;

/** A valid config whose only input path records which file it came from. */
function configNamed(label: string): string {
  return `input_paths:\n  ${label}:\n    path: /models/${label}\n    type: LORA\n`;
}

async function put(file: string, label: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, configNamed(label));
  return file;
}

async function loadedLabel(options: Parameters<typeof loadConfig>[0]): Promise<string> {
  const { config } = await loadConfig(options);
  return Object.keys(config.input_paths).join(',');
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'civitscraper-config-'));
  cwd = path.join(root, 'project');
  home = path.join(root, 'home');
  await mkdir(cwd, { recursive: true });
  await mkdir(home, { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('configSearchPaths', () => {
  test('lists the default places in order', () => {
    expect(configSearchPaths({ cwd, homeDir: home, env: {} })).toEqual([
      path.join(cwd, 'civitscraper.yaml'),
      path.join(cwd, 'civitscraper.yml'),
      path.join(cwd, 'config', 'default.yaml'),
      path.join(home, '.config', 'civitscraper', 'config.yaml'),
      path.join(home, '.civitscraper.yaml'),
    ]);
  });

  test('an explicit path, or CIVITSCRAPER_CONFIG, is the only place', () => {
    expect(configSearchPaths({ cwd, homeDir: home, env: {}, configPath: 'conf/my.yaml' })).toEqual([
      path.join(cwd, 'conf', 'my.yaml'),
    ]);
    expect(configSearchPaths({ cwd, homeDir: home, env: { CIVITSCRAPER_CONFIG: '~/cfg.yaml' } })).toEqual([
      path.join(home, 'cfg.yaml'),
    ]);
    expect(
      configSearchPaths({ cwd, homeDir: home, env: { CIVITSCRAPER_CONFIG: '/etc/x.yaml' }, configPath: '/opt/y.yaml' }),
    ).toEqual(['/opt/y.yaml']);
  });
});

describe('loadConfig lookup order', () => {
  test('each default place is used when the ones before it are missing', async () => {
    const base = { cwd, homeDir: home, env: {} };
    await put(path.join(home, '.civitscraper.yaml'), 'home_dotfile');
    expect(await loadedLabel(base)).toBe('home_dotfile');
    await put(path.join(home, '.config', 'civitscraper', 'config.yaml'), 'home_xdg');
    expect(await loadedLabel(base)).toBe('home_xdg');
    await put(path.join(cwd, 'config', 'default.yaml'), 'project_default');
    expect(await loadedLabel(base)).toBe('project_default');
    await put(path.join(cwd, 'civitscraper.yml'), 'project_yml');
    expect(await loadedLabel(base)).toBe('project_yml');
    await put(path.join(cwd, 'civitscraper.yaml'), 'project_yaml');
    expect(await loadedLabel(base)).toBe('project_yaml');
    const loaded = await loadConfig(base);
    expect(loaded.file).toBe(path.join(cwd, 'civitscraper.yaml'));
  });

  test('CIVITSCRAPER_CONFIG beats the default places; configPath beats both', async () => {
    await put(path.join(cwd, 'civitscraper.yaml'), 'project_yaml');
    const fromEnv = await put(path.join(root, 'elsewhere', 'env.yaml'), 'from_env');
    const explicit = await put(path.join(root, 'elsewhere', 'explicit.yaml'), 'explicit');
    const env = { CIVITSCRAPER_CONFIG: fromEnv };
    expect(await loadedLabel({ cwd, homeDir: home, env })).toBe('from_env');
    expect(await loadedLabel({ cwd, homeDir: home, env, configPath: explicit })).toBe('explicit');
    // A relative configPath is relative to cwd.
    expect(await loadedLabel({ cwd, homeDir: home, env: {}, configPath: '../elsewhere/explicit.yaml' })).toBe('explicit');
  });

  test('a missing configPath is an error naming it, even when other configs exist', async () => {
    await put(path.join(cwd, 'civitscraper.yaml'), 'project_yaml');
    const error = await configErrorAsync(loadConfig({ cwd, homeDir: home, env: {}, configPath: 'nope.yaml' }));
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.file).toBe(path.join(cwd, 'nope.yaml'));
    expect(error.message.split('\n')[0]).toBe(`Config file not found: ${path.join(cwd, 'nope.yaml')}`);
  });

  test('CIVITSCRAPER_CONFIG naming a missing file is an error, not silently skipped', async () => {
    await put(path.join(cwd, 'civitscraper.yaml'), 'project_yaml');
    const missing = path.join(root, 'gone.yaml');
    const error = await configErrorAsync(loadConfig({ cwd, homeDir: home, env: { CIVITSCRAPER_CONFIG: missing } }));
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.file).toBe(missing);
    expect(error.message).toContain(`Config file not found: ${missing}`);
    expect(error.message).toContain('CIVITSCRAPER_CONFIG');
  });

  test('nothing found: lists every place looked and how to get started', async () => {
    const error = await configErrorAsync(loadConfig({ cwd, homeDir: home, env: {} }));
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.searched).toEqual(configSearchPaths({ cwd, homeDir: home, env: {} }));
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('No CivitScraper config file found. Looked in:');
    expect(lines.slice(1, 6)).toEqual(error.searched?.map((place) => `  - ${place}`));
    expect(lines[6]).toBe(
      'To try it on a bundled sample library run `npm run demo`; to use your own library create civitscraper.yaml (see README)',
    );
  });

  test('a directory where the file should be is skipped by the search, an error when named', async () => {
    await mkdir(path.join(cwd, 'civitscraper.yaml'));
    await put(path.join(cwd, 'civitscraper.yml'), 'project_yml');
    expect(await loadedLabel({ cwd, homeDir: home, env: {} })).toBe('project_yml');
    const error = await configErrorAsync(
      loadConfig({ cwd, homeDir: home, env: {}, configPath: path.join(cwd, 'civitscraper.yaml') }),
    );
    expect(error.code).toBe('CONFIG_UNREADABLE');
  });

  // root reads everything, so this only runs as a normal user.
  test.skipIf(process.getuid?.() === 0)('a file that cannot be read is CONFIG_UNREADABLE', async () => {
    const file = await put(path.join(cwd, 'civitscraper.yaml'), 'x');
    const { chmod } = await import('node:fs/promises');
    await chmod(file, 0o000);
    const error = await configErrorAsync(loadConfig({ cwd, homeDir: home, env: {} }));
    expect(error.code).toBe('CONFIG_UNREADABLE');
    expect(error.message).toContain(file);
  });

  test('relative paths in the file are resolved against the config file folder, not cwd', async () => {
    const file = path.join(root, 'library', 'civitscraper.yaml');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'input_paths:\n  loras:\n    path: models/Lora\n    type: LORA\n');
    const { config, file: loadedFile } = await loadConfig({ cwd, homeDir: home, env: {}, configPath: file });
    expect(loadedFile).toBe(file);
    expect(config.input_paths.loras?.path).toBe(path.join(root, 'library', 'models', 'Lora'));
    expect(config.scanner.cache_dir).toBe(path.join(root, 'library', '.civitscraper_cache'));
  });
});
