import { inField, tooLarge } from '../errors.ts';

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
