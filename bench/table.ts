/** Column alignment: numbers read best right-aligned. */
export type Align = 'left' | 'right';

export interface Column {
  readonly title: string;
  readonly align?: Align;
}

/**
 * Render rows as a plain-text table with a header rule, columns padded to their widest cell.
 * Kept dependency-free so every bench section prints the same way.
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((col, i) =>
    Math.max(col.title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    columns
      .map((col, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? cell.length;
        return col.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join('\n');
}

/** A number with a fixed count of decimals and thousands separators ("12,345.6"). */
export function formatNumber(value: number, decimals: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
