/**
 * The part of dcmjs (which ships no types) that the SR writer and the source reader use: data sets as dcmjs
 * "naturalizes" them (attribute keywords as keys, sequences as arrays of items, person names as objects).
 */
declare module 'dcmjs' {
  /** A naturalized data set: keyword -> value (string, number, array, sequence items, person name objects). */
  export type NaturalDataset = Record<string, unknown>;
  /** A denaturalized data set: tag (e.g. "00100010") -> { vr, Value }. */
  export type DenaturalDataset = Record<string, { vr: string; Value?: unknown[] }>;

  interface DicomDictInstance {
    dict: DenaturalDataset;
    meta: DenaturalDataset;
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
  }

  const dcmjs: {
    data: {
      DicomDict: new (meta: DenaturalDataset) => DicomDictInstance;
      DicomMessage: {
        readFile(
          buffer: ArrayBuffer,
          options?: { ignoreErrors?: boolean; untilTag?: string; includeUntilTagValue?: boolean; noCopy?: boolean },
        ): DicomDictInstance;
      };
      DicomMetaDictionary: {
        naturalizeDataset(dataset: DenaturalDataset): NaturalDataset;
        denaturalizeDataset(dataset: NaturalDataset): DenaturalDataset;
      };
    };
    log: { setLevel(level: string): void; getLogger?(name: string): { setLevel(level: string): void } };
  };
  export default dcmjs;
}
