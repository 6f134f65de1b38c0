/**
 * What counts as a model file wherever a file name alone has to decide (a sidecar's model
 * beside it, a watched folder's change). Discovery itself goes by each input path's `patterns`.
 */
export const MODEL_FILE_EXTENSIONS: readonly string[] = ['.safetensors', '.ckpt', '.pt', '.pth', '.bin', '.gguf', '.sft'];

export function isModelFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return MODEL_FILE_EXTENSIONS.some((ext) => lower.endsWith(ext) && lower.length > ext.length);
}
