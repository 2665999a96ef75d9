import type { FastifyRequest } from 'fastify';
import { badRequest, inField, tooLarge } from '../errors.ts';

export interface FormFile {
  field: string;
  data: Buffer;
  /** The part's declared media type (application/dicom marks a DICOM data set without a preamble). */
  mimetype: string;
}

export interface Form {
  files: FormFile[];
  /** Every value of each text field, in order (repeated fields are allowed). */
  fields: Map<string, string[]>;
}

export interface FormLimits {
  /** Name of the file parts; a file under any other name is refused. */
  fileField: string;
  /** Text fields accepted; any other is refused, so typos do not pass silently. */
  textFields: readonly string[];
  maxFiles: number;
  /** Bytes of all parts together. */
  maxBytes: number;
}

/**
 * Reads a multipart body into memory within the limits: busboy enforces the per-part limits, this adds the
 * total size and refuses unknown parts. Files are buffered because sharp needs the whole image anyway.
 */
export async function readForm(request: FastifyRequest, limits: FormLimits): Promise<Form> {
  const form: Form = { files: [], fields: new Map() };
  let total = 0;
  const parts = request.parts({
    limits: {
      files: limits.maxFiles,
      fileSize: limits.maxBytes,
      fieldSize: limits.maxBytes,
      fields: 10_000,
      parts: limits.maxFiles + 10_000,
    },
  });
  for await (const part of parts) {
    if (part.type === 'file') {
      if (part.fieldname !== limits.fileField) {
        part.file.resume();
        throw inField(
          part.fieldname,
          badRequest(`unexpected file part "${part.fieldname}"; images go in parts named "${limits.fileField}"`),
        );
      }
      const data = await part.toBuffer();
      total += data.length;
      if (total > limits.maxBytes) throw tooLarge('the multipart body is larger than MAX_BODY_BYTES allows');
      form.files.push({ field: part.fieldname, data, mimetype: part.mimetype });
    } else {
      if (!limits.textFields.includes(part.fieldname)) {
        throw inField(
          part.fieldname,
          badRequest(`unexpected form field "${part.fieldname}" (accepted: ${[limits.fileField, ...limits.textFields].join(', ')})`),
        );
      }
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      total += value.length;
      if (total > limits.maxBytes) throw tooLarge('the multipart body is larger than MAX_BODY_BYTES allows');
      const values = form.fields.get(part.fieldname) ?? [];
      values.push(value);
      form.fields.set(part.fieldname, values);
    }
  }
  return form;
}

/** The single value of a field, or undefined; a field given twice is ambiguous and refused. */
export function singleField(form: Form, name: string): string | undefined {
  const values = form.fields.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw inField(name, badRequest(`form field "${name}" was given ${values.length} times`));
  return values[0];
}

/**
 * A list field given either as repeated fields or as one field holding a JSON array (the two forms the API
 * documents for `labels` and `templates`).
 */
export function listField(form: Form, name: string): unknown[] | undefined {
  const values = form.fields.get(name);
  if (values === undefined) return undefined;
  const first = values[0];
  if (values.length === 1 && first !== undefined && first.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(first);
    } catch {
      throw inField(name, badRequest(`form field "${name}" starts with "[" but is not a valid JSON array`));
    }
    if (!Array.isArray(parsed)) throw inField(name, badRequest(`form field "${name}" must be a JSON array`));
    return parsed as unknown[];
  }
  return values;
}
