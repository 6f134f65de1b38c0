/**
 * Where Krita AI Diffusion keeps `loras.json` (ai_diffusion/util.py `_get_user_data_dir`,
 * ai_diffusion/files.py `FileLibrary.load`):
 *
 *   <user data dir>/database/loras.json   plugin 1.23.0 and later
 *   <user data dir>/data/loras.json       older versions
 *
 * The user data dir is Qt's AppDataLocation for Krita + `ai_diffusion` (`…/krita/ai_diffusion`)
 * when that folder exists, else GenericDataLocation + `krita-ai-diffusion`.
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

function dataDirs(platform: NodeJS.Platform, env: Record<string, string | undefined>, home: string): { app: string[]; generic: string[] } {
  if (platform === 'win32') {
    const join = path.win32.join;
    const roaming = env.APPDATA || join(home, 'AppData', 'Roaming');
    const local = env.LOCALAPPDATA || join(home, 'AppData', 'Local');
    // Qt: AppDataLocation = %APPDATA%\krita, GenericDataLocation = %LOCALAPPDATA%.
    return { app: [join(roaming, 'krita', 'ai_diffusion')], generic: [join(local, 'krita-ai-diffusion')] };
  }
  const join = path.posix.join;
  if (platform === 'darwin') {
    const support = join(home, 'Library', 'Application Support');
    return { app: [join(support, 'krita', 'ai_diffusion')], generic: [join(support, 'krita-ai-diffusion')] };
  }
  const xdg = env.XDG_DATA_HOME && path.posix.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share');
  // Krita from Flathub keeps its data inside the sandbox.
  const flatpak = join(home, '.var', 'app', 'org.kde.krita', 'data');
  return {
    app: [join(xdg, 'krita', 'ai_diffusion'), join(flatpak, 'krita', 'ai_diffusion')],
    generic: [join(xdg, 'krita-ai-diffusion'), join(flatpak, 'krita-ai-diffusion')],
  };
}

/**
 * Every place `loras.json` may be, most likely first. Krita picks its folder first (the app data
 * folder whenever it exists, the generic one otherwise), then the file in it, so the order is:
 * app folder `database/`, app folder `data/`, then the same in the generic folder.
 */
export function kritaLorasFileCandidates(
  platform: NodeJS.Platform,
  env: Record<string, string | undefined>,
  homeDir: string,
): string[] {
  const join = platform === 'win32' ? path.win32.join : path.posix.join;
  const { app, generic } = dataDirs(platform, env, homeDir);
  const folders = [...app, ...generic];
  return folders.flatMap((folder) => [join(folder, 'database', 'loras.json'), join(folder, 'data', 'loras.json')]);
}

/** The first candidate that exists as a file, or `undefined`. */
export async function findKritaLorasFile(
  platform: NodeJS.Platform = process.platform,
  env: Record<string, string | undefined> = process.env,
  homeDir: string = homedir(),
): Promise<string | undefined> {
  for (const candidate of kritaLorasFileCandidates(platform, env, homeDir)) {
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) return candidate;
  }
  return undefined;
}
