// Database URLs as users give them (postgres://user:password@host:port/db?schema=cdm): recognised,
// split into the connection and the schema, and shown without their password in every message, log,
// summary and dataset.json.

/** An SQL identifier, quoted. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Whether an input or output names a PostgreSQL database rather than a path. */
export function isDatabaseUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** Query parameters that hold a secret. */
const SECRET_PARAM = /pass|secret|token|key/i;

/** The URL with its password (and any secret query parameter) replaced by "***". */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, "***");
    return u.toString().replace(/%2A%2A%2A/g, "***");
  } catch {
    // Not parsable as a URL: hide everything between the scheme and an "@", and after "password=".
    return url.replace(/\/\/[^/]*@/, "//***@").replace(/(pass\w*=)[^&]*/gi, "$1***");
  }
}

export interface DatabaseTarget {
  /** The URL without `schema`, for the driver. */
  connectionString: string;
  /** `?schema=` or the option; undefined to look for it. */
  schema?: string;
  /** The URL as messages show it: no password, schema named. */
  name: string;
  /** The secrets in the URL, scrubbed from any message the driver gives. */
  secrets: string[];
}

/** Splits `url` into the driver's connection string and the schema (`schema` overrides `?schema=`). */
export function parseDatabaseUrl(url: string, schema?: string): DatabaseTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseError(
      `${redactUrl(url)}: not a valid database URL; expected postgres://user:password@host:port/database?schema=name`,
    );
  }
  const fromUrl = u.searchParams.get("schema") ?? undefined;
  u.searchParams.delete("schema");
  const secrets = [u.password, decodeURIComponent(u.password)].filter((s) => s !== "");
  for (const [k, v] of u.searchParams) if (SECRET_PARAM.test(k) && v !== "") secrets.push(v);
  const chosen = schema ?? fromUrl;
  const shown = new URL(u.toString());
  if (chosen !== undefined) shown.searchParams.set("schema", chosen);
  return { connectionString: u.toString(), schema: chosen, name: redactUrl(shown.toString()), secrets };
}

/** A database problem in words (cannot connect, no such schema, ...): the CLI prints its message alone. */
export class DatabaseError extends Error {
  override name = "DatabaseError";
}

/** `message` with every secret replaced by "***". */
export function scrub(message: string, secrets: string[]): string {
  let m = message;
  for (const s of secrets) m = m.split(s).join("***");
  return m;
}

/** A driver error met while connecting to `target`, as one line naming the database and what to check. */
export function describeConnectError(err: unknown, target: DatabaseTarget): DatabaseError {
  const e = err as { code?: string; message?: string };
  const raw = scrub(e.message ?? String(err), target.secrets);
  const u = new URL(target.connectionString);
  const where = `${u.hostname || "localhost"}${u.port ? `:${u.port}` : ""}`;
  const why: Record<string, string> = {
    ECONNREFUSED: `connection refused at ${where}; is PostgreSQL running there and listening on that port?`,
    ENOTFOUND: `host ${u.hostname} not found; check the host name in the URL`,
    EAI_AGAIN: `host ${u.hostname} could not be looked up (DNS); check the host name and the network`,
    ETIMEDOUT: `timed out connecting to ${where}; check the host, port and firewall`,
    EHOSTUNREACH: `host ${u.hostname} unreachable`,
    "28P01": `password authentication failed for user "${decodeURIComponent(u.username)}"; check the user and password`,
    "3D000": `database "${u.pathname.slice(1)}" does not exist; check the database name in the URL`,
    "28000": `the server refused the connection (${raw})`,
  };
  const reason =
    (e.code !== undefined ? why[e.code] : undefined) ??
    (/timeout/i.test(raw) ? `timed out connecting to ${where}; check the host, port and firewall` : raw);
  return new DatabaseError(`${target.name}: could not connect: ${reason}`);
}
