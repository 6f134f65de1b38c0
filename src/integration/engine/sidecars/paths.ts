import path from 'node:path';
import type { OutputConfig } from '../config/schema.ts';
import type { LocalFile } from '../records/schema.ts';
import { compact } from '../scan/discover.ts';

/**
 * Where everything we write for one model file goes. The one place that knows the seed's
 * templates and `output.base_dir`, so the writer, the skip check, the reader of existing
 * sidecars and the organizer can never disagree.
 */
export interface SidecarLayout {
  metadataPath: string;
  imagesDir: string;
  /** Folder of the files other tools read (`.civitai.info`, A1111 `.json`, `.preview.<ext>`). */
  compatDir: string;
  civitaiInfoPath: string;
  a1111Path: string;
  webuiPreviewPath(ext: string): string;
  /** File name of the n-th preview (1-based) with the given extension (`.jpeg`). */
  previewName(index: number, ext: string): string;
}

export function resolveSidecarLayout(file: LocalFile, output: OutputConfig): SidecarLayout {
  const modelDir = path.dirname(file.path);
  // The templates were checked when the config was loaded (config/templates.ts): only these
  // placeholders, nothing that climbs out. `{model_type}` is a label from the config (the input
  // path's `type`), so it is made one plain folder name: `LORA/XL` cannot add a level.
  const fill = (template: string) => fillTemplate(template, modelDir, file);

  // With base_dir, mirror the input path id and the folder below it, so two `foo.safetensors`
  // in different folders never share a sidecar. Without it, the folder templates must start
  // with `{model_dir}`: the loader refuses a folder outside the model's (where same-named
  // models would overwrite each other's files) and says to set base_dir instead.
  const centralDir = output.base_dir
    ? path.join(output.base_dir, safeSegment(file.inputPathId), ...file.folder.split('/').filter(Boolean))
    : undefined;

  const metadataDir = centralDir ?? fill(output.metadata.path);
  const imagesDir = centralDir ?? fill(output.images.path);
  // WebUIs look for these beside the model, by its name; with base_dir they are only useful
  // to tools pointed at that folder, but the model folder stays untouched as promised.
  // Flat strings, and one string where two paths are the same (the default layout's metadata
  // sidecar is the A1111 file): a run holds a layout per model file (scan/discover.ts `compact`).
  const compatDir = resolved(centralDir ?? modelDir);
  const metadataPath = compact(inDir(metadataDir, fill(output.metadata.filename)));
  const a1111Path = inDir(compatDir, `${file.stem}.json`);
  const resolvedImagesDir = resolved(imagesDir);
  return new Layout(
    metadataPath,
    resolvedImagesDir,
    compatDir,
    compact(inDir(compatDir, `${file.stem}.civitai.info`)),
    a1111Path === metadataPath ? metadataPath : compact(a1111Path),
    file,
    output,
  );
}

/**
 * A layout's paths, and the file and settings its preview names come from: methods on the
 * class, not closures per file (three closures and their context were 20 MB over 50,000 files).
 */
class Layout implements SidecarLayout {
  readonly metadataPath: string;
  readonly imagesDir: string;
  readonly compatDir: string;
  readonly civitaiInfoPath: string;
  readonly a1111Path: string;
  readonly #file: LocalFile;
  readonly #output: OutputConfig;

  constructor(metadataPath: string, imagesDir: string, compatDir: string, civitaiInfoPath: string, a1111Path: string, file: LocalFile, output: OutputConfig) {
    this.metadataPath = metadataPath;
    this.imagesDir = imagesDir;
    this.compatDir = compatDir;
    this.civitaiInfoPath = civitaiInfoPath;
    this.a1111Path = a1111Path;
    this.#file = file;
    this.#output = output;
  }

  webuiPreviewPath(ext: string): string {
    return inDir(this.compatDir, `${this.#file.stem}.preview${ext}`);
  }

  previewName(index: number, ext: string): string {
    const template = fillTemplate(this.#output.images.filenames.preview, path.dirname(this.#file.path), this.#file);
    return splicePreviewIndex(template.replaceAll('{image_type}', 'preview'), index, ext);
  }
}

function fillTemplate(template: string, modelDir: string, file: LocalFile): string {
  return compiled(template)(modelDir, file.stem, () => safeSegment(file.inputType));
}

/**
 * The seed renders `{model_name}.preview{ext}` and splices the 1-based index in front of the
 * extension: `foo.preview1.jpeg`, `foo.preview2.png`.
 */
export function splicePreviewIndex(template: string, index: number, ext: string): string {
  if (template.includes('{ext}')) {
    const at = template.lastIndexOf('{ext}');
    return `${template.slice(0, at).replaceAll('{ext}', ext)}${index}${ext}${template.slice(at + '{ext}'.length)}`;
  }
  return `${template}${index}${ext}`;
}

type Filler = (dir: string, name: string, type: () => string) => string;
const fillers = new Map<string, Filler>();

/**
 * A template as a function of the model's folder, name and type, made once per template (three
 * replaceAll passes per template per model file added up over 50,000 files). A placeholder's
 * text inside a value (a folder named `{model_name}`) is not filled in again.
 */
function compiled(template: string): Filler {
  let filler = fillers.get(template);
  if (!filler) {
    const parts = template.split(/(\{model_dir\}|\{model_name\}|\{model_type\})/).filter((part) => part !== '');
    filler = (dir, name, type) => {
      let out = '';
      for (const part of parts) out += part === '{model_dir}' ? dir : part === '{model_name}' ? name : part === '{model_type}' ? type() : part;
      return out;
    };
    fillers.set(template, filler);
  }
  return filler;
}

/**
 * An absolute POSIX path with nothing to normalise (no `//`, `.`, `..`, trailing `/`): what
 * discovery gives. path.resolve walks such a path char by char for nothing, several times per
 * model file, which added up to a second over 50,000 files.
 */
function isPlain(dir: string): boolean {
  return path.sep === '/' && dir.startsWith('/') && !/\/\/|\/\.\.?(\/|$)/.test(dir) && (dir === '/' || !dir.endsWith('/'));
}

/**
 * The folders of a library's layouts are few (one per model folder, not per model): each is
 * checked and resolved once, instead of a regular-expression test or two per path per file.
 */
const knownDirs = new Map<string, { resolved: string; plain: boolean }>();
const KNOWN_DIRS_MAX = 4096;

function dirOf(dir: string): { resolved: string; plain: boolean } {
  let known = knownDirs.get(dir);
  if (known === undefined) {
    const plain = isPlain(dir);
    known = { resolved: compact(plain ? dir : path.resolve(dir)), plain };
    if (knownDirs.size >= KNOWN_DIRS_MAX) knownDirs.clear();
    knownDirs.set(dir, known);
  }
  return known;
}

function resolved(dir: string): string {
  return dirOf(dir).resolved;
}

/** `path.resolve(dir, name)`, without its walk over both when `name` is a plain file name. */
export function inDir(dir: string, name: string): string {
  if (!dirOf(dir).plain || name.includes('/') || name === '.' || name === '..' || name === '') return path.resolve(dir, name);
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function safeSegment(value: string): string {
  return value.replace(/[<>:"/\\|?*\u0000-\u001f]/g, '_').replace(/^\.+$/, '_') || '_';
}
