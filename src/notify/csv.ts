import iconv from 'iconv-lite';

/**
 * A small RFC 4180 CSV reader and writer for subscriber lists: quoted fields, doubled quotes, CRLF
 * or LF, a UTF-8 byte-order mark. Korean Excel saves CSV as CP949 (EUC-KR) unless told otherwise,
 * so bytes that are not valid UTF-8 are decoded as CP949 and the caller is told.
 */

export interface CsvRow {
  /** 1-based line number of the row's first line in the file, for error reports. */
  readonly line: number;
  readonly fields: readonly string[];
}

export interface DecodedCsv {
  readonly text: string;
  readonly encoding: 'utf-8' | 'cp949';
}

/** Bytes → text: UTF-8 (BOM dropped) when valid, else CP949. */
export function decodeCsvBytes(bytes: Buffer): DecodedCsv {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    return { text, encoding: 'utf-8' };
  } catch (err) {
    // Not UTF-8: the usual reason is Excel's Korean default. This is the expected path, not an
    // error to report; the import report says which encoding was used.
    if (!(err instanceof TypeError)) throw err;
    return { text: iconv.decode(bytes, 'cp949'), encoding: 'cp949' };
  }
}

/** Parse CSV text into rows (empty lines skipped). An unterminated quote ends at the end of the file. */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let fieldStarted = false;
  const endRow = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0]?.trim() === '')) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charAt(i);
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else {
          quoted = false;
        }
      } else {
        if (ch === '\n') line += 1;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      fieldStarted = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
      endRow();
      line += 1;
      rowLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

// A cell starting with one of these is run as a formula by Excel and LibreOffice (CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field: quoted when needed; a value that a spreadsheet would run as a formula gets a
 * leading apostrophe (OWASP's advice), which {@link unprotectCell} removes again on import.
 */
export function csvField(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== safe.trim() ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Undo {@link csvField}'s formula protection. */
export function unprotectCell(value: string): string {
  return /^'[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
}

/** Rows → CSV text with CRLF line ends (RFC 4180 §2). */
export function formatCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
