/** Where in an input a problem was found: the file, the 1-based line (or record), and the field. */
export interface DataLocation {
  file: string;
  /** 1-based line number for line formats, record index + 1 for JSON lists and Parquet rows. */
  line?: number;
  /** The field, as a dotted path (`responses.3.text`). */
  field?: string;
}

/**
 * Bad input data: thrown with the file, line and field it concerns, so the message alone tells a
 * user what to fix (`data.jsonl:17: field 'label': expected a string, got number`).
 */
export class DataFormatError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string | undefined;
  /** The problem without the location prefix. */
  readonly reason: string;

  constructor(location: DataLocation, reason: string, options?: { cause?: unknown }) {
    super(`${formatLocation(location)}: ${reason}`, options);
    this.name = "DataFormatError";
    this.file = location.file;
    this.line = location.line;
    this.field = location.field;
    this.reason = reason;
  }
}

/** `file:line: field 'x'` as used at the start of every data error message. */
export function formatLocation(location: DataLocation): string {
  let text = location.file;
  if (location.line !== undefined) text += `:${location.line}`;
  if (location.field !== undefined) text += `: field '${location.field}'`;
  return text;
}
