// A throwaway PostgreSQL cluster for the schema tests: initdb in a temporary folder, a Unix socket in
// that folder (no TCP port), stopped and removed at the end, even when a test fails. Run as root (as CI
// does), the server runs as the `postgres` system user that Debian's package creates.
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import pg from "pg";
import { sqlStatements as splitSql } from "../../src/ingest/sinks/ddl.ts";

/** Where PostgreSQL's server programs may be: PATH, /usr/local/bin, Debian's /usr/lib/postgresql/N/bin. */
function findBin(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/local/bin"];
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian))
    for (const v of readdirSync(debian).sort((a, b) => Number(b) - Number(a))) dirs.push(join(debian, v, "bin"));
  return dirs.find((d) => d !== "" && existsSync(join(d, "initdb")) && existsSync(join(d, "pg_ctl")));
}

/**
 * Why no cluster can start here, or undefined when one can. Tests skip with this reason, except under
 * CI=true, where they fail with it: a schema test must never pass without having run.
 */
export function postgresUnavailable(): string | undefined {
  if (findBin() === undefined)
    return "PostgreSQL server programs (initdb, pg_ctl) not found on PATH, /usr/local/bin or /usr/lib/postgresql/*/bin; install the Debian package postgresql (.ci/run does)";
  if (process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0)
    return "running as root and there is no `postgres` system user to run the server as; install the Debian package postgresql, which creates it";
  return undefined;
}

export interface Cluster {
  /** A client on the `postgres` database. */
  client: pg.Client;
  /** The folder of the server's Unix socket (a client's `host`). */
  socketDir: string;
  /** The data folder (pg_hba.conf). */
  dataDir: string;
  /** A new empty database and a client on it (call its end()). */
  database(name: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** Starts a cluster and connects to its `postgres` database. */
export async function startCluster(): Promise<Cluster> {
  const bin = findBin() as string;
  // The server (another user) reads the CSV files the tests write: keep them world-readable whatever
  // umask the runner has.
  process.umask(0o022);
  const root = mkdtempSync(join(tmpdir(), "halo-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const full = join(bin, cmd);
    // initdb and postgres refuse to run as root: hand them to the postgres user.
    const [exe, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", full, ...args]] : [full, args];
    return execFileSync(exe, argv, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(root, uid, gid);
  }
  chmodSync(root, 0o755);
  const data = join(root, "data");
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already gone; the folder is removed below either way.
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
    const opts = `-k ${root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    run("pg_ctl", ["-D", data, "-o", opts, "-l", join(root, "log"), "-w", "-t", "60", "start"]);
    started = true;
  } catch (error) {
    const log = existsSync(join(root, "log")) ? readFileSync(join(root, "log"), "utf8") : "";
    await stop();
    const e = error as { stderr?: string; message: string };
    throw new Error(`could not start PostgreSQL: ${e.stderr || e.message}\n${log}`);
  }
  const client = new pg.Client({ host: root, user: "postgres", database: "postgres" });
  try {
    await client.connect();
  } catch (error) {
    await stop();
    throw error;
  }
  // Leave no server behind if the test process dies between start and stop.
  const onExit = () => {
    if (started) run("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
  };
  process.once("exit", onExit);
  return {
    client,
    socketDir: root,
    dataDir: data,
    async database(name) {
      await client.query(`CREATE DATABASE ${name}`);
      const db = new pg.Client({ host: root, user: "postgres", database: name });
      await db.connect();
      return db;
    },
    async stop() {
      process.off("exit", onExit);
      await client.end().catch(() => {});
      await stop();
    },
  };
}

/** The statements of an SQL file (after `replace`), comments removed, split as src/ingest/sinks/ddl.ts splits them. */
export function sqlStatements(path: string, replace: Record<string, string> = {}): string[] {
  let text = readFileSync(path, "utf8");
  for (const [from, to] of Object.entries(replace)) text = text.split(from).join(to);
  return splitSql(text);
}

/** A temporary folder the postgres user can read (COPY reads files on the server side). */
export function readableTmpDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** The header of a CSV file (plain or .gz), names unquoted. */
export function csvHeader(path: string): string[] {
  const bytes = readFileSync(path);
  const text = (path.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
  return text
    .slice(0, text.indexOf("\n"))
    .replace(/\r$/, "")
    .split(",")
    .map((h) => h.replace(/^"|"$/g, ""));
}

/**
 * Loads a CSV file (plain or .gz) into `table` with COPY, by the columns its header names (so a column
 * the writer leaves out is NULL, and NOT NULL catches it). The server reads the file as the postgres
 * user, who may not reach the file's folder (CI's clone and ../shared can sit in a root-only folder),
 * so it reads a decompressed copy in a readable temporary folder. Returns the rows loaded; a bad row
 * throws PostgreSQL's message.
 */
export async function copyCsv(db: pg.Client, table: string, path: string): Promise<number> {
  const cols = csvHeader(path)
    .map((h) => `"${h.toLowerCase()}"`)
    .join(", ");
  const dir = readableTmpDir("halo-copy-");
  const copy = join(dir, "rows.csv");
  const bytes = readFileSync(path);
  writeFileSync(copy, path.endsWith(".gz") ? gunzipSync(bytes) : bytes);
  try {
    const res = await db.query(`COPY ${table} (${cols}) FROM '${copy}' WITH (FORMAT csv, HEADER true)`);
    return res.rowCount ?? 0;
  } catch (error) {
    throw new Error(`${path} into ${table}: ${(error as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
