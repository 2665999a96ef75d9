import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** openapi.yaml at the repository root: the same relative path from src/http/ and from dist/http/. */
export const OPENAPI_PATH = new URL('../../../openapi.yaml', import.meta.url);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface ApiDocument {
  /** openapi.yaml as written (served as /openapi.yaml). */
  text: string;
  /** The same, parsed (served as /openapi.json, and the source of the routes' schemas). */
  document: JsonObject;
}

let cached: ApiDocument | undefined;

/** The API document, read once per process: the routes validate with it and /openapi.* serve it. */
export function apiDocument(): ApiDocument {
  if (cached === undefined) {
    const text = readFileSync(OPENAPI_PATH, 'utf8');
    const document = parse(text) as Json;
    if (document === null || typeof document !== 'object' || Array.isArray(document))
      throw new Error(`${OPENAPI_PATH.pathname} is not an object`);
    cached = { text, document };
  }
  return cached;
}
