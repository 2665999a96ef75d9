/**
 * CSV and TSV as the commands read and write them: RFC 4180 quoting for CSV (fields with a comma, quote or line
 * break are quoted, quotes doubled), plain tab-separated lines for TSV (a tab or line break in a TSV field is an
 * error). Reading takes either line ending and a UTF-8 byte order mark.
 */

export type Delimiter = ',' | '\t';

/** The delimiter a file name implies: .tsv and .tab are tab-separated, anything else comma. */
export function delimiterOf(path: string): Delimiter {
  return /\.(tsv|tab)$/i.test(path) ? '\t' : ',';
}

/** Rows of fields; a header row is an ordinary row here. Throws on an unterminated quote. */
export function parseCsv(text: string, delimiter: Delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let fieldStarted = false;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c === '"' && delimiter === ',' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (fieldStarted || field !== '' || row.length > 0) {
        row.push(field);
        rows.push(row);
      }
      row = [];
      field = '';
      fieldStarted = false;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (fieldStarted || field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function quote(field: string, delimiter: Delimiter): string {
  if (delimiter === '\t') {
    if (/[\t\r\n]/.test(field)) throw new Error(`a tab or line break cannot be written to a TSV field: ${JSON.stringify(field)}`);
    return field;
  }
  return /[",\r\n]/.test(field) || field !== field.trim() ? `"${field.replaceAll('"', '""')}"` : field;
}

/** One line per row, each ending in \n. */
export function formatCsv(rows: readonly (readonly (string | number)[])[], delimiter: Delimiter = ','): string {
  return rows.map((row) => row.map((f) => quote(String(f), delimiter)).join(delimiter) + '\n').join('');
}

/** Rows as records keyed by the header row; `required` columns must be in the header. */
export function records(text: string, delimiter: Delimiter, required: string[], what: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text, delimiter);
  if (header === undefined) throw new Error(`${what} is empty (a header line naming the columns is needed)`);
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0)
    throw new Error(`${what} has no column ${missing.map((c) => `"${c}"`).join(', ')} (its columns: ${header.join(', ')})`);
  return rows.map((row, i) => {
    if (row.length !== header.length) throw new Error(`${what} line ${i + 2} has ${row.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((name, j) => [name, row[j]!]));
  });
}
