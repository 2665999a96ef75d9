import { tooLarge } from '../errors.ts';

/** Counts code points (up to `stopAfter` + 1), not UTF-16 units, so a limit means the same for every script. */
export function characters(text: string, stopAfter: number): number {
  if (text.length <= stopAfter) return text.length;
  let n = 0;
  for (const _ of text) if (++n > stopAfter) break;
  return n;
}

/** Refuses any text over MAX_CHARS_PER_TEXT (`max`), naming it by position only (texts may be patient data). */
export function checkTextLengths(texts: readonly string[], max: number, what: string): void {
  texts.forEach((text, i) => {
    if (characters(text, max) > max) throw tooLarge(`${what} ${i} is longer than MAX_CHARS_PER_TEXT (${max} characters)`, 'text_too_long');
  });
}
