/**
 * NumPy's .npy format (version 1.0) for 2-D little-endian float32 arrays, C order: what `numpy.load` reads and
 * `embed` writes. https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);

/** The header (magic, version, length, dict padded with spaces to a multiple of 64 bytes). */
export function npyHeader(rows: number, cols: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const unpadded = MAGIC.length + 2 + dict.length + 1;
  const padded = Math.ceil(unpadded / 64) * 64;
  const text = dict + ' '.repeat(padded - unpadded) + '\n';
  const header = Buffer.alloc(MAGIC.length + 2);
  MAGIC.copy(header);
  header.writeUInt16LE(text.length, MAGIC.length);
  return Buffer.concat([header, Buffer.from(text, 'latin1')]);
}

/** Writes rows (each `cols` floats) to `path`, one row at a time (never the whole matrix in one buffer). */
export function writeNpy(path: string, cols: number, rows: Iterable<Float32Array>, count: number): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, npyHeader(count, cols));
    let written = 0;
    for (const row of rows) {
      if (row.length !== cols) throw new Error(`row ${written} has ${row.length} values, expected ${cols}`);
      writeSync(fd, littleEndian(row));
      written++;
    }
    if (written !== count) throw new Error(`wrote ${written} rows, the header says ${count}`);
  } finally {
    closeSync(fd);
  }
}

function littleEndian(row: Float32Array): Uint8Array {
  const out = Buffer.alloc(row.length * 4);
  for (let i = 0; i < row.length; i++) out.writeFloatLE(row[i]!, i * 4);
  return out;
}

/** Reads a 2-D little-endian float32 C-order .npy (what writeNpy writes, or numpy's `np.save` of such an array). */
export function readNpy(path: string): { rows: number; cols: number; data: Float32Array } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(10);
    readSync(fd, head, 0, 10, 0);
    if (!head.subarray(0, 6).equals(MAGIC.subarray(0, 6))) throw new Error(`${path} is not a .npy file`);
    const major = head[6]!;
    const headerLength = major === 1 ? head.readUInt16LE(8) : readUInt32At(fd, 8);
    const offset = (major === 1 ? 10 : 12) + headerLength;
    const dictBytes = Buffer.alloc(headerLength);
    readSync(fd, dictBytes, 0, headerLength, major === 1 ? 10 : 12);
    const dict = dictBytes.toString('latin1');
    if (!/'descr':\s*'<f4'/.test(dict) || !/'fortran_order':\s*False/.test(dict))
      throw new Error(`${path}: only little-endian float32 in C order is read (${dict.trim()})`);
    const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(dict);
    if (shape === null) throw new Error(`${path}: not a 2-D array (${dict.trim()})`);
    const rows = Number(shape[1]);
    const cols = Number(shape[2]);
    const bytes = Buffer.alloc(rows * cols * 4);
    const read = readSync(fd, bytes, 0, bytes.length, offset);
    if (read !== bytes.length) throw new Error(`${path} is truncated (${read} of ${bytes.length} data bytes)`);
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(i * 4);
    return { rows, cols, data };
  } finally {
    closeSync(fd);
  }
}

function readUInt32At(fd: number, position: number): number {
  const b = Buffer.alloc(4);
  readSync(fd, b, 0, 4, position);
  return b.readUInt32LE(0);
}
