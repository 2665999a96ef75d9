/**
 * Coded concepts of the classification SR (docs/pacs.md "DICOM SR answers"): DICOM's (DCM), SNOMED CT's (SCT),
 * UCUM's, and this service's private scheme 99UNIMED (PS3.16 8.2: a `99` prefix is a local scheme) for labels and
 * for what was classified against, as FHIR's answer has them under urn:unimed-serve:*.
 */
import { createHash } from 'node:crypto';

export interface Code {
  CodeValue?: string;
  LongCodeValue?: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

export const PRIVATE_SCHEME = '99UNIMED';

const dcm = (value: string, meaning: string): Code => ({ CodeValue: value, CodingSchemeDesignator: 'DCM', CodeMeaning: meaning });
const sct = (value: string, meaning: string): Code => ({ CodeValue: value, CodingSchemeDesignator: 'SCT', CodeMeaning: meaning });

export const CODES = {
  imagingMeasurementReport: dcm('126000', 'Imaging Measurement Report'),
  languageOfContent: dcm('121049', 'Language of Content Item and Descendants'),
  englishUs: { CodeValue: 'en-US', CodingSchemeDesignator: 'RFC5646', CodeMeaning: 'English (United States)' },
  observerType: dcm('121005', 'Observer Type'),
  device: dcm('121007', 'Device'),
  deviceObserverUid: dcm('121012', 'Device Observer UID'),
  deviceObserverName: dcm('121013', 'Device Observer Name'),
  deviceObserverManufacturer: dcm('121014', 'Device Observer Manufacturer'),
  deviceObserverModelName: dcm('121015', 'Device Observer Model Name'),
  procedureReported: dcm('121058', 'Procedure reported'),
  imagingProcedure: sct('363679005', 'Imaging procedure'),
  imageLibrary: dcm('111028', 'Image Library'),
  imageLibraryGroup: dcm('126200', 'Image Library Group'),
  imagingMeasurements: dcm('126010', 'Imaging Measurements'),
  measurementGroup: dcm('125007', 'Measurement Group'),
  trackingIdentifier: dcm('112039', 'Tracking Identifier'),
  trackingUid: dcm('112040', 'Tracking Unique Identifier'),
  source: sct('260753009', 'Source'),
  algorithmName: dcm('111001', 'Algorithm Name'),
  algorithmVersion: dcm('111003', 'Algorithm Version'),
  algorithmParameters: dcm('111002', 'Algorithm Parameters'),
  undetermined: sct('373068000', 'Undetermined'),
  yes: sct('373066001', 'Yes'),
  no: sct('373067005', 'No'),
  noUnits: { CodeValue: '1', CodingSchemeDesignator: 'UCUM', CodeMeaning: 'no units' },
  zeroShot: { CodeValue: 'zero-shot', CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: 'Zero-shot classification' },
  abstained: { CodeValue: 'abstained', CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: 'Abstained' },
  predictionSetMember: { CodeValue: 'prediction-set', CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: 'Prediction set member' },
} satisfies Record<string, Code>;

/** SH without backslash or control characters, no leading or trailing space (PS3.5 6.2), ASCII only. */
const SHORT_CODE = /^[\x21-\x5b\x5d-\x7e]([\x20-\x5b\x5d-\x7e]*[\x21-\x5b\x5d-\x7e])?$/;

/** Code Meaning (LO): at most 64 characters and no backslash. */
function meaningOf(text: string): string {
  const clean = text.replace(/\\/g, '/');
  return clean.length <= 64 ? clean : `${clean.slice(0, 61)}...`;
}

/**
 * A label or prompt set name as a code of 99UNIMED: the text itself as Code Value when it fits SH (16 ASCII
 * characters), else as Long Code Value (UC) when it has no backslash, else a digest of it (`h` and 15 hex digits);
 * the Code Meaning is the text (a backslash read as `/`, cut to 64 characters).
 */
export function privateCode(text: string): Code {
  const meaning = meaningOf(text);
  if (text.length <= 16 && SHORT_CODE.test(text)) return { CodeValue: text, CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: meaning };
  if (!text.includes('\\') && text.trim() === text)
    return { LongCodeValue: text, CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: meaning };
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 15);
  return { CodeValue: `h${digest}`, CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: meaning };
}
