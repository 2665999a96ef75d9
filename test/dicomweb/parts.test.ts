// The pure parts of DICOMweb handling: multipart/related bodies, UID references, slice order and sampling, and
// the ordering attributes read from an uploaded instance's header.
import t from 'tap';
import { uploadedOrder } from '../../src/dicomweb/instance-order.ts';
import { MultipartError, parseMultipartRelated } from '../../src/dicomweb/multipart-related.ts';
import { parseInstanceReference, parseSeriesReference } from '../../src/dicomweb/reference.ts';
import { evenSample, sliceOrder } from '../../src/dicomweb/series.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { identified } from '../fixtures/dicom/ct-series.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';

t.test('multipart/related: parts as views, headers optional, bounded, malformed refused', (t) => {
  const body = Buffer.from('preamble\r\n--b1\r\nContent-Type: application/dicom\r\n\r\nAAAA\r\n--b1\r\n\r\nBB\r\nB\r\n--b1--\r\nepilogue');
  const parts = parseMultipartRelated(body, 'multipart/related; type="application/dicom"; boundary="b1"', 10);
  t.same(
    parts.map((p) => [p.type, p.data.toString()]),
    [
      ['application/dicom', 'AAAA'],
      ['', 'BB\r\nB'],
    ],
  );
  t.throws(() => parseMultipartRelated(body, 'multipart/related; boundary=b1', 1), MultipartError, 'more parts than allowed');
  t.throws(() => parseMultipartRelated(Buffer.from('--b1\r\n\r\nAAAA'), 'multipart/related; boundary=b1', 10), /truncated/);
  t.throws(() => parseMultipartRelated(body, 'multipart/related', 10), /without a valid boundary/);
  t.throws(() => parseMultipartRelated(body, 'multipart/mixed; boundary=b1', 10), /expected multipart\/related/);
  t.throws(() => parseMultipartRelated(body, 'multipart/related; boundary=zz', 10), /without its boundary/);
  t.end();
});

t.test('references: UIDs are digits and dots, at most 64; frame 0-based; nothing else', (t) => {
  t.same(parseInstanceReference({ source: 'p', study: '1.2', series: '1.2.3', instance: '1.2.3.4', frame: 0 }, 'image.dicomweb'), {
    source: 'p',
    study: '1.2',
    series: '1.2.3',
    instance: '1.2.3.4',
    frame: 0,
  });
  t.same(parseSeriesReference({ source: 'p', study: '1', series: '2' }, 'dicomweb'), { source: 'p', study: '1', series: '2' });
  for (const [bad, message] of [
    [{ source: 'p', study: '1.2/../x', series: '1', instance: '1' }, /study must be a DICOM UID/],
    [{ source: 'p', study: '1..2', series: '1', instance: '1' }, /study must be a DICOM UID/],
    [{ source: 'p', study: '1', series: '1'.repeat(65), instance: '1' }, /series must be a DICOM UID/],
    [{ source: 'p', study: '1', series: '1', instance: '1', frame: -1 }, /frame must be an integer/],
    [{ source: 'p', study: '1', series: '1', instance: '1', url: 'http://x' }, /unknown property "url"/],
    [{ study: '1', series: '1', instance: '1' }, /source must name/],
  ] as const) {
    t.throws(() => parseInstanceReference(bad, 'image.dicomweb'), message);
  }
  t.end();
});

t.test('slice order: Instance Number, else z of Image Position, else as listed; even sampling', (t) => {
  t.same(
    sliceOrder([
      { instanceNumber: 3, position: undefined },
      { instanceNumber: 1, position: undefined },
      { instanceNumber: 2, position: undefined },
    ]),
    [1, 2, 0],
  );
  t.same(
    sliceOrder([
      { instanceNumber: 3, position: [0, 0, 5] },
      { instanceNumber: undefined, position: [0, 0, -5] },
    ]),
    [1, 0],
    'by position when a number is missing',
  );
  t.same(
    sliceOrder([
      { instanceNumber: 2, position: undefined },
      { instanceNumber: undefined, position: [0, 0, 1] },
    ]),
    [0, 1],
    'as listed',
  );
  t.same(evenSample(48, 4), [0, 16, 31, 47]);
  t.same(evenSample(5, 5), [0, 1, 2, 3, 4]);
  t.same(evenSample(3, 10), [0, 1, 2]);
  t.same(evenSample(7, 1), [3]);
  t.same(evenSample(10, 2), [0, 9]);
  t.end();
});

t.test("an uploaded instance's order and UID come from its header", (t) => {
  const bytes = identified(ct(), { study: '1.2', series: '1.2.3', instance: '1.2.3.9', patientId: 'P' }, [
    [0x00200013, 'IS', '7'],
    [0x00200032, 'DS', '-1\\2.5\\-30'],
  ]);
  t.same(uploadedOrder(bytes), { uid: '1.2.3.9', instanceNumber: 7, position: [-1, 2.5, -30] });
  t.same(uploadedOrder(imageDicom(ct())), { uid: '1.2.826.0.1.3680043.8.498.1', instanceNumber: undefined, position: undefined });
  t.same(uploadedOrder(Buffer.from('not dicom at all')), { uid: undefined, instanceNumber: undefined, position: undefined });
  t.end();
});
