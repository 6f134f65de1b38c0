/**
 * A unified diff built from the edits themselves (we know exactly which lines change), so it
 * is exact and linear in the file size, with no general diff algorithm.
 */
import type { TextEdit } from './jsonc.ts';

interface Region {
  first: number;
  last: number;
  edits: TextEdit[];
}

export function unifiedDiff(
  text: string,
  edits: readonly TextEdit[],
  labels: { from: string; to: string },
  context = 3,
): string {
  if (edits.length === 0) return '';
  const lineStarts = [0];
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lineStarts.push(index + 1);
  const lineEnd = (line: number) => {
    const next = lineStarts[line + 1];
    return next === undefined ? text.length : next - 1;
  };
  const lineOf = (offset: number) => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((lineStarts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  };
  const strip = (line: string) => line.replace(/\r$/, '');
  const oldLine = (line: number) => strip(text.slice(lineStarts[line] ?? 0, lineEnd(line)));
  // A final newline does not start another line worth showing.
  const lineCount = text.endsWith('\n') ? lineStarts.length - 1 : lineStarts.length;

  const regions: Region[] = [];
  for (const edit of [...edits].sort((a, b) => a.start - b.start)) {
    const first = lineOf(edit.start);
    const last = lineOf(Math.max(edit.start, edit.end - 1));
    const previous = regions.at(-1);
    if (previous && first <= previous.last) {
      previous.last = Math.max(previous.last, last);
      previous.edits.push(edit);
    } else {
      regions.push({ first, last, edits: [edit] });
    }
  }

  const newLinesOf = (region: Region): string[] => {
    let out = '';
    let cursor = lineStarts[region.first] ?? 0;
    for (const edit of region.edits) {
      out += text.slice(cursor, edit.start) + edit.text;
      cursor = edit.end;
    }
    out += text.slice(cursor, lineEnd(region.last));
    return out.split('\n').map(strip);
  };

  const output = [`--- ${labels.from}`, `+++ ${labels.to}`];
  let delta = 0;
  let index = 0;
  while (index < regions.length) {
    const group: Region[] = [regions[index] as Region];
    index += 1;
    while (index < regions.length) {
      const next = regions[index] as Region;
      if (next.first - (group.at(-1) as Region).last - 1 > 2 * context) break;
      group.push(next);
      index += 1;
    }
    const firstRegion = group[0] as Region;
    const lastRegion = group.at(-1) as Region;
    const start = Math.max(0, firstRegion.first - context);
    const end = Math.min(lineCount - 1, lastRegion.last + context);
    const body: string[] = [];
    let oldCount = 0;
    let newCount = 0;
    let line = start;
    for (const region of group) {
      for (; line < region.first; line += 1, oldCount += 1, newCount += 1) body.push(` ${oldLine(line)}`);
      for (; line <= region.last; line += 1, oldCount += 1) body.push(`-${oldLine(line)}`);
      const added = newLinesOf(region);
      for (const newLine of added) body.push(`+${newLine}`);
      newCount += added.length;
    }
    for (; line <= end; line += 1, oldCount += 1, newCount += 1) body.push(` ${oldLine(line)}`);
    output.push(`@@ -${start + 1},${oldCount} +${start + 1 + delta},${newCount} @@`, ...body);
    delta += newCount - oldCount;
  }
  return `${output.join('\n')}\n`;
}
