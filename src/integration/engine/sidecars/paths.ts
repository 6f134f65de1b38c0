import path from 'node:path';
import type { OutputConfig } from '../config/schema.ts';
import type { LocalFile } from '../records/schema.ts';

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
  const fill = (template: string) =>
    template
      .replaceAll('{model_dir}', modelDir)
      .replaceAll('{model_name}', file.stem)
      .replaceAll('{model_type}', safeSegment(file.inputType));

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
  const compatDir = path.resolve(centralDir ?? modelDir);
  return {
    metadataPath: path.resolve(metadataDir, fill(output.metadata.filename)),
    imagesDir: path.resolve(imagesDir),
    compatDir,
    civitaiInfoPath: path.join(compatDir, `${file.stem}.civitai.info`),
    a1111Path: path.join(compatDir, `${file.stem}.json`),
    webuiPreviewPath: (ext) => path.join(compatDir, `${file.stem}.preview${ext}`),
    previewName(index, ext) {
      return splicePreviewIndex(fill(output.images.filenames.preview).replaceAll('{image_type}', 'preview'), index, ext);
    },
  };
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

function safeSegment(value: string): string {
  return value.replace(/[<>:"/\\|?*\u0000-\u001f]/g, '_').replace(/^\.+$/, '_') || '_';
}
