// A compressed frame whose own header (JPEG and JPEG-LS start of frame, JPEG 2000 and HTJ2K SIZ) declares another
// size than Rows x Columns is refused with 422 dimension_mismatch before a codec runs: in the header pass that
// sizes the memory reservation, and again in the render. The streams are made by independent encoders (dcmtk,
// GDCM, OpenJPH); the mismatches are made by patching the size fields of their headers.
import pino from 'pino';
import t from 'tap';
import type { Test } from 'tap';
import { buildApp } from '../../../src/app.ts';
import { ServiceError } from '../../../src/errors.ts';
import { j2kImageSize, jpegFrameSize } from '../../../src/inputs/dicom/codestream.ts';
import { Metrics } from '../../../src/metrics.ts';
import { COLUMNS, ct, mono12, mono12Values, mono8, ROWS } from '../../fixtures/dicom/images.ts';
import { htj2k } from '../../fixtures/dicom/tools.ts';
import { encapsulated, imageDicom, imageElements, part10 } from '../../fixtures/dicom/writer.ts';
import { loadRegistry, testConfig } from '../../helpers/common.ts';
import type { ErrorBody } from '../../helpers/http.ts';
import { DICOM_TEST_LIMITS, dicomDecoderSetup } from '../../helpers/dicom-decoder.ts';

const LIMITS = DICOM_TEST_LIMITS;
const silent = pino({ level: 'silent' });
const { decoder, work } = await dicomDecoderSetup(1);

const sources = {
  ct: work.write('ct.dcm', imageDicom(ct())),
  mono8: work.write('mono8.dcm', imageDicom(mono8())),
};
const HTJ2K = '1.2.840.10008.1.2.4.201';
const ht = part10(imageElements(mono12(), false), {
  transferSyntax: HTJ2K,
  pixelData: encapsulated([htj2k(work, mono12Values(), ROWS, COLUMNS, 12)]),
});

interface Case {
  name: string;
  file: Buffer;
  /** Where the frame header's width and height are, found independently of the service's parser. */
  fields: (file: Buffer) => { width: number; height: number; bytes: 2 | 4 };
}

/** The first start-of-frame segment after SOI (the marker segments walked by their lengths). */
function jpegFields(marker: number) {
  return (file: Buffer) => {
    let at = file.indexOf(Buffer.from([0xff, 0xd8, 0xff])) + 2;
    while (file[at + 1] !== marker) at += 2 + file.readUInt16BE(at + 2);
    return { height: at + 5, width: at + 7, bytes: 2 as const };
  };
}

const j2kFields = (file: Buffer) => {
  const siz = file.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
  return { width: siz + 8, height: siz + 12, bytes: 4 as const };
};

const cases: Case[] = [
  { name: 'JPEG baseline (dcmcjpeg +eb)', file: work.read(work.convert('dcmcjpeg', ['+eb'], sources.mono8)), fields: jpegFields(0xc0) },
  { name: 'JPEG lossless SV1 (dcmcjpeg +e1)', file: work.read(work.convert('dcmcjpeg', ['+e1'], sources.ct)), fields: jpegFields(0xc3) },
  { name: 'JPEG-LS (dcmcjpls)', file: work.read(work.convert('dcmcjpls', [], sources.ct)), fields: jpegFields(0xf7) },
  { name: 'JPEG 2000 (gdcmconv --j2k)', file: work.read(work.convert('gdcmconv', ['--j2k'], sources.ct)), fields: j2kFields },
  { name: 'HTJ2K (ojph_compress)', file: ht, fields: j2kFields },
];

function patched(file: Buffer, at: number, bytes: 2 | 4, value: number): Buffer {
  const copy = Buffer.from(file);
  if (bytes === 2) copy.writeUInt16BE(value, at);
  else copy.writeUInt32BE(value, at);
  return copy;
}

async function mismatch(t: Test, work: Promise<unknown>, size: string) {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, ServiceError);
  t.match(error, {
    code: 'dimension_mismatch',
    message: new RegExp(`codestream is ${size} pixels but Rows x Columns say ${COLUMNS}x${ROWS}`),
  });
}

for (const c of cases) {
  t.test(c.name, async (t) => {
    const { width, height, bytes } = c.fields(c.file);
    const read = bytes === 2 ? (at: number) => c.file.readUInt16BE(at) : (at: number) => c.file.readUInt32BE(at);
    t.same([read(width), read(height)], [COLUMNS, ROWS], 'the encoder wrote Rows x Columns into the frame header');
    const intact = await decoder.renderDicom(c.file, {}, LIMITS);
    t.same([intact.width, intact.height], [COLUMNS, ROWS], 'the intact file renders');

    const wider = patched(c.file, width, bytes, COLUMNS + 1);
    await mismatch(t, decoder.dicomCost(wider, {}, LIMITS), `${COLUMNS + 1}x${ROWS}`);
    await mismatch(t, decoder.renderDicom(wider, {}, LIMITS), `${COLUMNS + 1}x${ROWS}`);
    // A frame header promising far more pixels than the header (a decompression bomb behind small Rows/Columns).
    const taller = patched(c.file, height, bytes, 30_000);
    await mismatch(t, decoder.renderDicom(taller, {}, LIMITS), `${COLUMNS}x30000`);
  });
}

t.test('the frame header readers find nothing in streams without one (the codec then refuses them)', (t) => {
  t.equal(jpegFrameSize(Buffer.from([0xff, 0xd8, 0xff, 0xf7, 1, 2, 3, 4])), undefined, 'a start of frame cut short');
  t.equal(jpegFrameSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9])), undefined, 'a scan before any frame header');
  t.equal(jpegFrameSize(Buffer.from([0x00, 0x01])), undefined, 'no SOI');
  t.equal(j2kImageSize(Buffer.from([0xff, 0x4f, 0xff, 0x51, 0, 0, 0])), undefined, 'SIZ cut short');
  t.end();
});

t.test('through HTTP: 422 dimension_mismatch from the header pass, nothing reserved', async (t) => {
  const { registry } = await loadRegistry();
  t.teardown(() => registry.close());
  const app = await buildApp({
    config: testConfig({ MEMORY_BUDGET_BYTES: String(64 * 1024 * 1024) }),
    metrics: new Metrics({ defaultMetrics: false }),
    registry,
    logger: silent,
  });
  t.teardown(() => app.close());
  const [jpegLs] = cases.filter((c) => c.name.startsWith('JPEG-LS'));
  const { width, bytes } = jpegLs!.fields(jpegLs!.file);
  const response = await app.inject({
    method: 'POST',
    url: '/embed/image',
    headers: { 'content-type': 'application/dicom' },
    payload: patched(jpegLs!.file, width, bytes, COLUMNS + 1),
  });
  t.equal(response.statusCode, 422);
  t.equal(response.json<ErrorBody>().error.code, 'dimension_mismatch');
  t.equal(app.memoryBudget.reservedBytes, 0);
});
