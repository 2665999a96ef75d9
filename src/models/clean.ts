import { decodeHTML } from 'entities';

/**
 * Text cleaning `unimed-clean-v1` (models/README.md): the fixed, portable subset of the reference's ftfy
 * cleaning. It must match training/tokenizer.py `clean_text` character for character, because the token ids
 * it leads to are checked against golden.json at load and the cleaned text is the text-cache key.
 */
export const CLEANING_ID = 'unimed-clean-v1';

// Step 1. With the `u` flag a lone surrogate is one code point of category Cs, while a valid pair is one
// astral code point, so only lone halves are removed (as Python, whose str never holds a valid pair).
// eslint-disable-next-line no-control-regex -- removing control characters is the point of this step
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uD800-\uDFFF]/gu;

// Steps 2-4 as one code point -> replacement table, like Python's str.translate.
const TRANSLATE = new Map<number, string>([
  [0x2018, "'"], [0x2019, "'"], [0x201a, "'"], [0x201b, "'"], [0x02bc, "'"],
  [0x201c, '"'], [0x201d, '"'], [0x201e, '"'], [0x201f, '"'],
  [0x3000, ' '],
  [0xfb00, 'ff'], [0xfb01, 'fi'], [0xfb02, 'fl'], [0xfb03, 'ffi'], [0xfb04, 'ffl'], [0xfb05, '\u017ft'], [0xfb06, 'st'],
  [0x0132, 'IJ'], [0x0133, 'ij'], [0x01c7, 'LJ'], [0x01c8, 'Lj'], [0x01c9, 'lj'], [0x01ca, 'NJ'], [0x01cb, 'Nj'],
  [0x01cc, 'nj'], [0x01f1, 'DZ'], [0x01f2, 'Dz'], [0x01f3, 'dz'], [0x01c4, 'D\u017d'], [0x01c5, 'D\u017e'],
  [0x01c6, 'd\u017e'],
]);
for (let cp = 0xff01; cp <= 0xff5e; cp++) TRANSLATE.set(cp, String.fromCodePoint(cp - 0xfee0));
const TRANSLATABLE = /[\u2018-\u201F\u02BC\u3000\uFB00-\uFB06\u0132\u0133\u01C4-\u01CC\u01F1-\u01F3\uFF01-\uFF5E]/gu;

// Python's html module: the character reference pattern and the fix-ups it applies to numeric references.
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;
const INVALID_CHARREFS = new Map<number, string>([
  [0x00, '\uFFFD'], [0x0d, '\r'], [0x80, '\u20AC'], [0x81, '\x81'], [0x82, '\u201A'], [0x83, '\u0192'],
  [0x84, '\u201E'], [0x85, '\u2026'], [0x86, '\u2020'], [0x87, '\u2021'], [0x88, '\u02C6'], [0x89, '\u2030'],
  [0x8a, '\u0160'], [0x8b, '\u2039'], [0x8c, '\u0152'], [0x8d, '\x8d'], [0x8e, '\u017D'], [0x8f, '\x8f'],
  [0x90, '\x90'], [0x91, '\u2018'], [0x92, '\u2019'], [0x93, '\u201C'], [0x94, '\u201D'], [0x95, '\u2022'],
  [0x96, '\u2013'], [0x97, '\u2014'], [0x98, '\u02DC'], [0x99, '\u2122'], [0x9a, '\u0161'], [0x9b, '\u203A'],
  [0x9c, '\u0153'], [0x9d, '\x9d'], [0x9e, '\u017E'], [0x9f, '\u0178'],
]);

/** Python's html._invalid_codepoints: references to these decode to nothing. */
function invalidCodepoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) || cp === 0xb || (cp >= 0xe && cp <= 0x1f) || (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe
  );
}

function replaceCharref(whole: string, ref: string): string {
  if (ref.startsWith('#')) {
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
    // Number() of a huge decimal is a huge float or Infinity: either way past U+10FFFF, as Python's int is.
    const num = hex ? parseInt(digits, 16) : Number(digits);
    const fixed = INVALID_CHARREFS.get(num);
    if (fixed !== undefined) return fixed;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\uFFFD';
    if (invalidCodepoint(num)) return '';
    return String.fromCodePoint(num);
  }
  // Named: Python takes the name if it is an entity, else its longest legacy (semicolon-less) prefix. The HTML5
  // tokenizer's longest match, which `entities` implements in legacy mode, is the same rule on these inputs
  // (no '&' inside, at most one ';' and only at the end).
  return decodeHTML(whole);
}

/** Python 3 `html.unescape`. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, replaceCharref);
}

// Step 7: exactly the characters Python's str.isspace() accepts.
const WHITESPACE_CHARS =
  '\t\n\u000B\u000C\r\u001C\u001D\u001E\u001F \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006' +
  '\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000';
const WHITESPACE_RUN = new RegExp(`[${WHITESPACE_CHARS}]+`, 'gu');
const EDGE_WHITESPACE = new RegExp(`^[${WHITESPACE_CHARS}]+|[${WHITESPACE_CHARS}]+$`, 'gu');

/** unimed-clean-v1, steps 1-7 in the contract's order. */
export function cleanText(text: string): string {
  let out = text.replace(CONTROL, '');
  out = out.replace(TRANSLATABLE, (c) => TRANSLATE.get(c.codePointAt(0) ?? 0) ?? c);
  out = out.normalize('NFC');
  out = htmlUnescape(htmlUnescape(out));
  return out.replace(WHITESPACE_RUN, ' ').replace(EDGE_WHITESPACE, '');
}
