// Parsers of numeric command-line options, shared by every command so that the same kind of number
// is checked the same way and refused with the value the user typed ("-7", not a value derived from it).
import { InvalidArgumentError } from "commander";

/** A whole number in [min, max], written as plain digits ("1e3", "2.5", "-7" and "" are refused). */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  return (value) => {
    const n = Number(value.trim());
    if (!/^\d+$/.test(value.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`Expected a whole number ${range} but received "${value}".`);
    return n;
  };
}

/** A seed: what the seeded generators take, a 32-bit unsigned integer. */
export const seedNumber = wholeNumber(0, 2 ** 32 - 1);

/** A finite number greater than 0 (minutes, rates). */
export function positiveNumber(value: string): number {
  const x = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(x) || x <= 0)
    throw new InvalidArgumentError(`Expected a number greater than 0 but received "${value}".`);
  return x;
}
