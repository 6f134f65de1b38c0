import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findKritaLorasFile, kritaLorasFileCandidates } from '../../src/integration/engine/krita/index.ts';

describe('kritaLorasFileCandidates', () => {
  it('Linux: XDG data home (or ~/.local/share), then Flatpak; database/ before data/', () => {
    expect(kritaLorasFileCandidates('linux', {}, '/home/a')).toEqual([
      '/home/a/.local/share/krita/ai_diffusion/database/loras.json',
      '/home/a/.local/share/krita/ai_diffusion/data/loras.json',
      '/home/a/.var/app/org.kde.krita/data/krita/ai_diffusion/database/loras.json',
      '/home/a/.var/app/org.kde.krita/data/krita/ai_diffusion/data/loras.json',
      '/home/a/.local/share/krita-ai-diffusion/database/loras.json',
      '/home/a/.local/share/krita-ai-diffusion/data/loras.json',
      '/home/a/.var/app/org.kde.krita/data/krita-ai-diffusion/database/loras.json',
      '/home/a/.var/app/org.kde.krita/data/krita-ai-diffusion/data/loras.json',
    ]);
    expect(kritaLorasFileCandidates('linux', { XDG_DATA_HOME: '/data/xdg' }, '/home/a')[0]).toBe('/data/xdg/krita/ai_diffusion/database/loras.json');
    // A relative XDG_DATA_HOME is invalid per the spec and ignored, as Qt does.
    expect(kritaLorasFileCandidates('linux', { XDG_DATA_HOME: 'rel' }, '/home/a')[0]).toBe('/home/a/.local/share/krita/ai_diffusion/database/loras.json');
  });

  it('Windows: %APPDATA%\\krita\\ai_diffusion, generic fallback under %LOCALAPPDATA%', () => {
    const env = { APPDATA: 'C:\\Users\\a\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' };
    expect(kritaLorasFileCandidates('win32', env, 'C:\\Users\\a')).toEqual([
      'C:\\Users\\a\\AppData\\Roaming\\krita\\ai_diffusion\\database\\loras.json',
      'C:\\Users\\a\\AppData\\Roaming\\krita\\ai_diffusion\\data\\loras.json',
      'C:\\Users\\a\\AppData\\Local\\krita-ai-diffusion\\database\\loras.json',
      'C:\\Users\\a\\AppData\\Local\\krita-ai-diffusion\\data\\loras.json',
    ]);
    expect(kritaLorasFileCandidates('win32', {}, 'C:\\Users\\b')[0]).toBe('C:\\Users\\b\\AppData\\Roaming\\krita\\ai_diffusion\\database\\loras.json');
  });

  it('macOS: ~/Library/Application Support', () => {
    expect(kritaLorasFileCandidates('darwin', {}, '/Users/a')).toEqual([
      '/Users/a/Library/Application Support/krita/ai_diffusion/database/loras.json',
      '/Users/a/Library/Application Support/krita/ai_diffusion/data/loras.json',
      '/Users/a/Library/Application Support/krita-ai-diffusion/database/loras.json',
      '/Users/a/Library/Application Support/krita-ai-diffusion/data/loras.json',
    ]);
  });
});

describe('findKritaLorasFile', () => {
  it('returns the first file that exists, preferring the current location', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'krita-home-'));
    try {
      expect(await findKritaLorasFile('linux', {}, home)).toBeUndefined();
      const old = path.join(home, '.local/share/krita/ai_diffusion/data/loras.json');
      await mkdir(path.dirname(old), { recursive: true });
      await writeFile(old, '[]');
      expect(await findKritaLorasFile('linux', {}, home)).toBe(old);
      const current = path.join(home, '.local/share/krita/ai_diffusion/database/loras.json');
      await mkdir(current, { recursive: true }); // a folder with that name is not the file
      expect(await findKritaLorasFile('linux', {}, home)).toBe(old);
      await rm(current, { recursive: true });
      await writeFile(current, '[]');
      expect(await findKritaLorasFile('linux', {}, home)).toBe(current);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
