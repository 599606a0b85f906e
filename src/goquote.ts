/**
 * Go's strconv.Quote, which BuildKit's Dump() and many of its messages use: `"` and `\` are
 * escaped, \a \b \f \n \r \t \v use short escapes, other control characters become \xHH,
 * printable Unicode (Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
 * the ASCII space) stays as is, anything else becomes \uHHHH or \UHHHHHHHH.
 */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
  0x22: '\\"',
  0x5c: '\\\\',
};

/** Characters that never need escaping: ASCII printable except `"` and `\`. */
function plainAscii(c: number): boolean {
  return c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
}

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (plainAscii(c)) out += ch;
    else if (SHORT[c] !== undefined) out += SHORT[c];
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else if (c >= 0x80 && PRINTABLE.test(ch)) out += ch;
    else if (c < 0x10000) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out + '"';
}
