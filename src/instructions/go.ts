/**
 * Small Go standard-library behaviours BuildKit relies on when reading instructions:
 * time.ParseDuration, strconv.ParseBool / ParseUint / ParseInt, go-units RAMInBytes and the
 * CSV field splitting of `--mount`/`--device` values (tonistiigi/go-csvvalue).
 */

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5
  'μs': 1e3, // U+03BC
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const utf8 = new TextEncoder();

/** The time package's quote: `"` and `\\` escaped, control and non-ASCII bytes as `\\xNN`. */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 || cp < 0x20) {
      for (const b of utf8.encode(ch)) out += '\\x' + b.toString(16).padStart(2, '0');
    } else {
      out += ch === '"' || ch === '\\' ? '\\' + ch : ch;
    }
  }
  return out + '"';
}

const MAX = 1n << 63n;

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

/**
 * time.ParseDuration in nanoseconds; throws Go's message on error. The arithmetic is Go's:
 * exact integers for the whole part, and for the fraction `uint64(float64(f) * (unit /
 * scale))` truncated per component — so `0.009h` is 32400000000ns exactly, as in Go.
 */
export function parseGoDuration(input: string): number {
  const invalid = () => new Error(`time: invalid duration ${quote(input)}`);
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s, 0))) throw invalid();
    // leadingInt: [0-9]*, an error past 1<<63.
    let i = 0;
    let v = 0n;
    for (; i < s.length && isDigit(s, i); i++) {
      if (v > MAX / 10n) throw invalid();
      v = v * 10n + BigInt(s.charCodeAt(i) - 0x30);
      if (v > MAX) throw invalid();
    }
    const pre = i > 0;
    s = s.slice(i);
    // leadingFraction: (\.[0-9]*)?, precision stops accumulating on overflow.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s, j); j++) {
        if (overflow) continue;
        if (f > (MAX - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 0x30);
        if (y > MAX) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();
    let k = 0;
    while (k < s.length && s[k] !== '.' && !isDigit(s, k)) k++;
    if (k === 0) throw new Error(`time: missing unit in duration ${quote(input)}`);
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS[u];
    if (unit === undefined) throw new Error(`time: unknown unit ${quote(u)} in duration ${quote(input)}`);
    const ubig = BigInt(unit);
    if (v > MAX / ubig) throw invalid();
    v *= ubig;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (unit / scale)));
      if (v > MAX) throw invalid();
    }
    d += v;
    if (d > MAX) throw invalid();
  }
  if (neg) return -Number(d);
  if (d > MAX - 1n) throw invalid();
  return Number(d);
}

/** strconv.ParseBool. */
export function parseGoBool(value: string): boolean | undefined {
  switch (value) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

/** strconv.ParseUint(value, base, 32); undefined when invalid or out of range. */
export function parseGoUint32(value: string, base: 8 | 10): number | undefined {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(value)) return undefined;
  const n = Number.parseInt(value, base);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * go-units v0.5.0 RAMInBytes (the version BuildKit vendors): the number is everything up to
 * the last digit, dot or space (one space may separate it from the suffix) read by
 * strconv.ParseFloat; the suffix is `b`, or k/m/g/t/p optionally followed by `b` or `ib`,
 * any case, binary multipliers. Undefined when Go would return an error.
 */
export function parseRamInBytes(value: string): number | undefined {
  let sep = -1;
  for (let i = value.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(value[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) return undefined;
  const num = value[sep] === ' ' ? value.slice(0, sep) : value.slice(0, sep + 1);
  let sfx = value.slice(sep + 1);
  // strconv.ParseFloat, decimal forms (num ends with a digit or a dot, so no inf/nan).
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(num)) return undefined;
  let size = Number(num);
  if (!Number.isFinite(size) || size < 0) return undefined;
  if (sfx.length === 0) return Math.trunc(size);
  if (sfx.length > 3) return undefined;
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') return sfx.length > 1 ? undefined : Math.trunc(size);
  const mult = ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 } as Record<string, number>)[sfx[0]!];
  if (mult === undefined) return undefined;
  size *= mult;
  if (sfx.length === 2 && sfx[1] !== 'b') return undefined;
  if (sfx.length === 3 && sfx.slice(1) !== 'ib') return undefined;
  return Math.trunc(size);
}

const CSV_QUOTE = 'extraneous or missing " in quoted-field';
const CSV_BARE_QUOTE = 'bare " in non-quoted-field';

/** encoding/csv's ParseError text; the column counts bytes, from 1. */
function csvError(value: string, offset: number, message: string): Error {
  const column = utf8.encode(value.slice(0, offset)).length + 1;
  return new Error(`parse error on line 1, column ${column}: ${message}`);
}

/**
 * One CSV record (comma separated, `"` quoting with `""` for a quote), as go-csvvalue's
 * Fields reads it: one trailing newline is allowed, an empty value is an error (`EOF`), and
 * errors read as encoding/csv's ParseError.
 */
export function csvFields(input: string): string[] {
  let value = input;
  if (value.endsWith('\r\n')) value = value.slice(0, -2);
  else if (value.endsWith('\n')) value = value.slice(0, -1);
  if (value === '') throw new Error('EOF');
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (value[i] === '"') {
      let field = '';
      i++;
      for (;;) {
        if (i >= value.length) throw csvError(value, lastQuoteEnd(value, i), CSV_QUOTE);
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += value[i];
        i++;
      }
      // The closing quote must end the field: the error points at that quote.
      if (i < value.length && value[i] !== ',') throw csvError(value, i - 1, CSV_QUOTE);
      out.push(field);
    } else {
      const end = value.indexOf(',', i);
      const field = value.slice(i, end === -1 ? value.length : end);
      const q = field.indexOf('"');
      if (q !== -1) throw csvError(value, i + q, CSV_BARE_QUOTE);
      out.push(field);
      i = end === -1 ? value.length : end;
    }
    if (i >= value.length) return out;
    i++; // the comma
    if (i >= value.length) {
      out.push('');
      return out;
    }
  }
}

/** Where go-csvvalue reports a quoted field that never closes: just after its last quote. */
function lastQuoteEnd(value: string, end: number): number {
  return value.lastIndexOf('"', end - 1) + 1;
}
