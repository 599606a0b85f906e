/**
 * Timestamps in image configs and history.
 *
 * Determinism rule: `created` is SOURCE_DATE_EPOCH when it is set, otherwise the fixed
 * default 1970-01-01T00:00:00Z (BuildKit uses the wall clock when SOURCE_DATE_EPOCH is not
 * set; build-image does not, so two builds of the same input give the same digest).
 *
 * Times are written as Go's time.Time marshals them (RFC 3339 with nanoseconds trimmed):
 * `2024-01-02T03:04:05Z`, `2024-01-02T03:04:05.5Z`.
 */
import { BuildImageError } from '../errors.js';

/** The default `created` time: the Unix epoch. */
export const DEFAULT_CREATED = '1970-01-01T00:00:00Z';

/**
 * Parses a SOURCE_DATE_EPOCH value (decimal seconds since the epoch, as the reproducible-builds
 * spec defines it). Returns undefined for undefined or an empty string; throws
 * `IMAGE_INVALID_SOURCE_DATE_EPOCH` for anything that is not a non-negative integer.
 */
export function parseSourceDateEpoch(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new BuildImageError(
      'IMAGE_INVALID_SOURCE_DATE_EPOCH',
      `invalid SOURCE_DATE_EPOCH "${String(value)}": expected a whole number of seconds since 1970-01-01`,
    );
  }
  return Number(text);
}

/** RFC 3339 text of a time given as seconds since the epoch (fractions allowed) or a Date. */
export function formatTimestamp(time: number | Date): string {
  const ms = typeof time === 'number' ? time * 1000 : time.getTime();
  if (!Number.isFinite(ms)) throw new BuildImageError('IMAGE_INVALID_TIME', `invalid time ${String(time)}`);
  const iso = new Date(Math.floor(ms)).toISOString(); // 1970-01-01T00:00:00.000Z
  const base = iso.slice(0, 19);
  // Sub-millisecond digits are dropped (a JS Date has millisecond precision).
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return frac ? `${base}.${frac}Z` : `${base}Z`;
}

/** The `created` value for a build: SOURCE_DATE_EPOCH when given, else `DEFAULT_CREATED`. */
export function createdTime(sourceDateEpoch?: number): string {
  return sourceDateEpoch === undefined ? DEFAULT_CREATED : formatTimestamp(sourceDateEpoch);
}
