// Calendar arithmetic on ISO dates at day resolution (UTC), for gap and age tokens and their decoding.

const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of an ISO date or date-time (its date part), or NaN when unparsable. */
export function dayNumber(iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) return Number.NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC rolls 2020-02-31 over to March; such a date is invalid, not a different day.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return Number.NaN;
  return Math.round(ms / MS_PER_DAY);
}

/** The ISO date (YYYY-MM-DD) of a day number. */
export function isoDay(day: number): string {
  const d = new Date(day * MS_PER_DAY);
  const y = d.getUTCFullYear();
  const yyyy = y >= 0 && y <= 9999 ? String(y).padStart(4, "0") : String(y);
  return `${yyyy}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-${String(d.getUTCDate()).padStart(2, "0")}`;
}

function parts(day: number): [number, number, number] {
  const d = new Date(day * MS_PER_DAY);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

/** Completed years between a birth day and a later day (the usual "age"); negative if born later. */
export function ageInYears(birthDay: number, day: number): number {
  const [by, bm, bd] = parts(birthDay);
  const [y, m, d] = parts(day);
  let age = y - by;
  if (m < bm || (m === bm && d < bd)) age--;
  return age;
}

/** The same month/day `years` earlier; 29 February becomes 28 February in a common year. */
export function minusYears(day: number, years: number): number {
  const [y, m, d] = parts(day);
  const ty = y - years;
  const last = new Date(Date.UTC(ty, m, 0)).getUTCDate();
  return Math.round(Date.UTC(ty, m - 1, Math.min(d, last)) / MS_PER_DAY);
}

/** The first and last birth days (inclusive) that make someone exactly `age` years old on `day`. */
export function birthDayRange(day: number, age: number): [number, number] {
  return [minusYears(day, age + 1) + 1, minusYears(day, age)];
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Whether an ISO string carries a time of day (not just a date). */
export function hasTime(iso: string): boolean {
  return DATE_TIME.exec(iso.trim())?.[2] !== undefined;
}

/** Minutes since 1970-01-01T00:00Z of an ISO date or date-time (a zone offset applied when given), or NaN. */
export function minuteNumber(iso: string): number {
  const m = DATE_TIME.exec(iso.trim());
  if (!m) return Number.NaN;
  const day = dayNumber(m[1]);
  if (m[2] === undefined) return day * 1440;
  let minutes = day * 1440 + Number(m[2]) * 60 + Number(m[3]);
  const zone = m[5];
  if (zone !== undefined && zone !== "Z") {
    const z = zone.replace(":", "");
    const offset = Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5));
    minutes -= z[0] === "-" ? -offset : offset;
  }
  return minutes;
}

/** The ISO date-time (YYYY-MM-DDTHH:MM:SS, UTC, no zone suffix) of a minute number. */
export function isoMinute(minute: number): string {
  const day = Math.floor(minute / 1440);
  const m = minute - day * 1440;
  return `${isoDay(day)}T${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}:00`;
}
