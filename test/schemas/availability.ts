// Whether the schema tests can run here: PostgreSQL's server programs (and, as root, a postgres user),
// ../shared/schemas and ../shared/data. Without them the tests skip and print why, except under
// CI=true, where they fail: a schema test must never pass without having run.
import { existsSync } from "node:fs";
import { DATA, schemasPresent } from "./load.ts";
import { postgresUnavailable } from "./postgres.ts";

/** Why the schema tests cannot run, or undefined. */
export function unavailableReason(): string | undefined {
  return (
    postgresUnavailable() ??
    (schemasPresent() ? undefined : "../shared/schemas not found") ??
    (existsSync(DATA) ? undefined : "../shared/data not found")
  );
}

/** The `skip` option for a schema suite: the reason outside CI (printed), false under CI=true. */
export function skipReason(): string | false {
  const why = unavailableReason();
  if (why === undefined || process.env.CI === "true") return false;
  console.log(`# schema tests skipped: ${why} (under CI=true this is a failure)`);
  return why;
}
