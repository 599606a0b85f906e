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

function quote(s: string): string {
  return '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

/** time.ParseDuration in nanoseconds; throws Go's message on error. */
export function parseGoDuration(input: string): number {
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${quote(input)}`);
  let total = 0;
  while (s !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const whole = m[1] ?? '';
    const frac = m[2];
    if (whole === '' && (frac === undefined || frac === '')) throw new Error(`time: invalid duration ${quote(input)}`);
    s = s.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') throw new Error(`time: missing unit in duration ${quote(input)}`);
    const unit = UNITS[u];
    if (unit === undefined) throw new Error(`time: unknown unit ${quote(u)} in duration ${quote(input)}`);
    s = s.slice(u.length);
    const value = Number(whole === '' ? '0' : whole) * unit + (frac ? Number('0.' + frac) * unit : 0);
    total += value;
    if (total > 9223372036854775807) throw new Error(`time: invalid duration ${quote(input)}`);
  }
  return Math.trunc(neg ? -total : total);
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

/** go-units RAMInBytes: `64m`, `1g`, `1.5GiB`, `512` … with binary multipliers. */
export function parseRamInBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (m === null) return undefined;
  const n = Number.parseFloat(m[1]!);
  if (!Number.isFinite(n)) return undefined;
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]?.toLowerCase() ?? ''] ?? 1;
  return Math.trunc(n * mult);
}

/** One CSV record (comma separated, `"` quoting with `""` for a quote), as go-csvvalue reads it. */
export function csvFields(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  if (value === '') return [''];
  for (;;) {
    if (value[i] === '"') {
      let field = '';
      i++;
      for (;;) {
        if (i >= value.length) throw new Error(`extraneous or missing " in quoted-field`);
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
      if (i < value.length && value[i] !== ',') throw new Error(`extraneous or missing " in quoted-field`);
      out.push(field);
    } else {
      const end = value.indexOf(',', i);
      const field = value.slice(i, end === -1 ? value.length : end);
      if (field.includes('"')) throw new Error(`bare " in non-quoted-field`);
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
