import { badRequest, inField, tooLarge } from '../errors.ts';

/** Counts code points (up to `stopAfter` + 1), not UTF-16 units, so a limit means the same for every script. */
export function characters(text: string, stopAfter: number): number {
  if (text.length <= stopAfter) return text.length;
  let n = 0;
  for (const _ of text) if (++n > stopAfter) break;
  return n;
}

/**
 * Refuses any text over MAX_CHARS_PER_TEXT (`max`), naming it by position only (texts may be patient data) and
 * the request input (`field`) it came in. Returns the longest text's length in characters and its position
 * (-1, -1 for none).
 */
export function checkTextLengths(texts: readonly string[], max: number, what: string, field: string): { chars: number; index: number } {
  const longest = { chars: -1, index: -1 };
  texts.forEach((text, i) => {
    const chars = characters(text, max);
    if (chars > max) throw inField(field, tooLarge(`${what} ${i} is longer than MAX_CHARS_PER_TEXT (${max} characters)`, 'text_too_long'));
    if (chars > longest.chars) Object.assign(longest, { chars, index: i });
  });
  return longest;
}

/**
 * Zero-width characters (U+200B-U+200F, which include the LRM/RLM marks), bidi embeddings and overrides
 * (U+202A-U+202E), bidi isolates (U+2066-U+2069) and the BOM (U+FEFF): invisible, so two labels that look the same
 * would score as two classes, and an override would reorder what a reader of a FHIR code sees.
 */
const INVISIBLE_CONTROLS = /[\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/u;

/**
 * A label's or template's one form: refused (400 naming `field`, the text by position only) if it holds an
 * invisible control character, else NFC-normalised, so that composed and decomposed accents are one label and
 * one cache entry. ASCII comes back unchanged.
 */
export function canonicalPromptText(text: string, what: string, index: number, field: string): string {
  if (INVISIBLE_CONTROLS.test(text)) {
    const message = `${what} ${index} holds a zero-width or bidirectional control character (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069 or U+FEFF)`;
    throw inField(field, badRequest(message));
  }
  return text.normalize('NFC');
}
