// Tests that need something from outside the repository (../shared data, Chromium, the native addon).
// Outside CI a missing need skips the test with its reason (shown in the report); under CI=true (set by
// .ci/run) the test runs anyway and fails on what is missing: it must never pass there by not running.
// test/schemas/availability.ts does the same for the PostgreSQL schema tests.

/** The `skip` option for a test whose need may be missing: `why` it is missing (or false), false under CI=true. */
export function skipOutsideCI(why: string | false | undefined): string | false {
  if (!why || process.env.CI === "true") return false;
  return `${why} (under CI=true this test fails instead)`;
}
