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
