// The QIDO-RS answers the service reads: a study's series listing leaves out the series that hold no images (the
// service's own SRs stored back in the study, key objects, presentation states), keeps those listed without a
// modality, and refuses what is not a DICOM JSON list of series.
import t from 'tap';
import { studySeriesListing } from '../../src/dicomweb/qido.ts';

const series = (uid: string, modality?: string) => ({
  '0020000E': { vr: 'UI', Value: [uid] },
  ...(modality === undefined ? {} : { '00080060': { vr: 'CS', Value: [modality] } }),
});
const listing = (entries: unknown[]) => Buffer.from(JSON.stringify(entries));

t.test('image series kept, non-image series left out, a series without a modality kept', (t) => {
  const answer = listing([
    series('1.2.1', 'CT'),
    series('1.2.2', 'SR'),
    series('1.2.3', 'KO'),
    series('1.2.4', 'pr '),
    series('1.2.5'),
    series('1.2.6', 'MR'),
  ]);
  t.same(studySeriesListing(answer), ['1.2.1', '1.2.5', '1.2.6']);
  t.same(studySeriesListing(listing([series('1.2.2', 'SR')])), [], 'a study of reports only: no image series');
  t.end();
});

t.test('not a list of series: undefined', (t) => {
  t.equal(studySeriesListing(Buffer.from('{')), undefined);
  t.equal(studySeriesListing(listing([{ '00080060': { vr: 'CS', Value: ['CT'] } }])), undefined, 'a series without its UID');
  t.equal(studySeriesListing(Buffer.from('{"a":1}')), undefined);
  t.end();
});
