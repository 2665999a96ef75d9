/**
 * dcmjs, the one DICOM writer (docs/decisions.md), set up once: its logger silenced, because dcmjs logs attribute
 * values (a value it truncates, an unknown attribute with its value) and DICOM values never reach the logs.
 */
import dcmjs from 'dcmjs';

dcmjs.log.setLevel('silent');

export const { DicomDict, DicomMessage, DicomMetaDictionary } = dcmjs.data;
export type { NaturalDataset } from 'dcmjs';
