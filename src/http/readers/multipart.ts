import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { badRequest, inField, tooLarge } from '../../errors.ts';
import { tooManyImages, type ImageLimit } from './image-limit.ts';

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
  /** File parts past this are refused with the limit's own message (busboy is let count one more, so it never speaks first). */
  files: ImageLimit;
  /** Bytes of all parts together. */
  maxBytes: number;
}

/**
 * A file part's bytes, read here rather than by the plugin's `toBuffer()`, which keeps them on the part object:
 * reachable from busboy (a Writable stream, which on Node 24 outlives V8's scavenges), so every form's images
 * stayed in memory until a full collection (docs/decisions.md, "Buffers that outlived V8's scavenges").
 */
async function readPart(file: Readable & { truncated: boolean }): Promise<Buffer> {
  // Not node:stream/consumers' buffer(): it goes through a Blob, copying every byte twice.
  const chunks: Buffer[] = [];
  for await (const chunk of file) chunks.push(chunk as Buffer);
  // busboy stops at `fileSize` and marks the part: past MAX_BODY_BYTES on its own.
  if (file.truncated) throw tooLarge('a file part is larger than MAX_BODY_BYTES allows');
  return Buffer.concat(chunks);
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
      files: limits.files.max + 1,
      fileSize: limits.maxBytes,
      fieldSize: limits.maxBytes,
      fields: 10_000,
      parts: limits.files.max + 10_001,
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
      if (form.files.length === limits.files.max) {
        part.file.resume();
        throw tooManyImages(`more than ${limits.files.max}`, limits.files);
      }
      const data = await readPart(part.file);
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
