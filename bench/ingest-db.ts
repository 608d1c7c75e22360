// Ingest throughput by source: a generated MIMIC-IV-sized hosp module (patients, admissions,
// diagnoses_icd; default 300k admissions and 5M diagnoses, --scale to shrink it) read from CSV files
// (csv-parse, and DuckDB's scanner), from Parquet files (DuckDB) and from PostgreSQL (a throwaway cluster, official MIMIC-IV DDL, server-side
// cursor). Each ingest (read + encode + save) runs in its own child process so peak RSS is its own;
// prints the median of --runs runs. MB/s is of the CSV text's size, the same data for every source.
// Usage: node --import tsx bench/ingest-db.ts [--scale 1] [--runs 3] [--keep DIR]
//        [--sources csv,duckdb-csv,parquet,postgres]
// The data set is written under a temporary folder (or --keep DIR, reused when present) and never committed.
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { DuckDBInstance } from "@duckdb/node-api";
import { from as copyFrom } from "pg-copy-streams";
import { runIngest } from "../src/api/ingest.ts";
import { seededRandom, uniformInt } from "../src/encode/seeded-random.ts";
import { officialDdl } from "../src/ingest/sinks/ddl.ts";
import { startCluster } from "../test/schemas/postgres.ts";

const args = process.argv.slice(2);
const value = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const TABLES = ["patients", "admissions", "diagnoses_icd"];

if (args[0] === "--child") {
  // One ingest: node bench/ingest-db.ts --child <input> <out> <engine>
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const engine = args[3] as "csv-parse" | "duckdb";
  const s = await runIngest(args[1], { out: args[2], quiet: true, force: true, labels: "top:10", engine });
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      seconds,
      // CPU seconds (user + system, every thread) of the ingest: on a shared machine, less noisy than the
      // wall clock. PostgreSQL's own server process is not counted.
      cpu: (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6,
      read: s.seconds.read,
      patients: s.patients,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
} else {
  const scale = Number(value("--scale", "1"));
  const runs = Number(value("--runs", "3"));
  const kept = args.includes("--keep") ? value("--keep", "") : undefined;
  const root = kept ?? mkdtempSync(join(tmpdir(), "halo-bench-db-"));
  const csvDir = join(root, "csv");
  const parquetDir = join(root, "parquet");
  const admissions = Math.round(300_000 * scale);
  const diagnoses = Math.round(5_000_000 * scale);
  const patients = Math.round(admissions * 0.6);
  if (!existsSync(join(csvDir, "diagnoses_icd.csv"))) {
    mkdirSync(csvDir, { recursive: true });
    await generate(csvDir, patients, admissions, diagnoses);
  }
  if (!existsSync(join(parquetDir, "diagnoses_icd.parquet"))) {
    mkdirSync(parquetDir, { recursive: true });
    const duck = await DuckDBInstance.create(":memory:");
    const con = await duck.connect();
    for (const t of TABLES)
      await con.run(
        `COPY (SELECT * FROM read_csv('${join(csvDir, `${t}.csv`)}', all_varchar = true)) TO '${join(parquetDir, `${t}.parquet`)}' (FORMAT parquet)`,
      );
    con.closeSync();
    duck.closeSync();
  }
  const csvMb = TABLES.reduce((n, t) => n + statSync(join(csvDir, `${t}.csv`)).size, 0) / 1e6;
  const parquetMb = TABLES.reduce((n, t) => n + statSync(join(parquetDir, `${t}.parquet`)).size, 0) / 1e6;
  const cluster = await startCluster();
  try {
    const db = await cluster.database("mimic");
    const t0 = performance.now();
    await db.query("CREATE SCHEMA mimiciv_hosp");
    const ddl = officialDdl("mimic4", "mimiciv_hosp");
    for (const t of TABLES) await db.query(ddl.tables.get(t) as string);
    for (const t of TABLES)
      await pipeline(
        createReadStream(join(csvDir, `${t}.csv`)),
        db.query(copyFrom(`COPY mimiciv_hosp.${t} FROM STDIN WITH (FORMAT csv, HEADER true)`)),
      );
    await db.query("ANALYZE");
    const loadSeconds = (performance.now() - t0) / 1000;
    await db.end();
    const url = `postgres://postgres@localhost/mimic?host=${encodeURIComponent(cluster.socketDir)}`;
    console.log(
      `MIMIC-IV-shaped set: ${patients} patients, ${admissions} admissions, ${diagnoses} diagnoses; CSV ${csvMb.toFixed(0)} MB, Parquet ${parquetMb.toFixed(0)} MB; loaded into PostgreSQL in ${loadSeconds.toFixed(0)} s`,
    );
    console.log(
      `ingest (read + encode + save), median of ${runs} runs, each in its own process; node ${process.version}`,
    );
    console.log("| source | total s | read s | CPU s | MB/s (total) | MB/s (read) | MB per CPU s | peak RSS MB |");
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
    const sources = value("--sources", "csv,duckdb-csv,parquet,postgres").split(",");
    for (const [key, name, input, engine] of [
      ["csv", "CSV (csv-parse)", csvDir, "csv-parse"],
      ["duckdb-csv", "CSV (DuckDB, --engine duckdb)", csvDir, "duckdb"],
      ["parquet", "Parquet (DuckDB)", parquetDir, "csv-parse"],
      ["postgres", "PostgreSQL (cursor)", url, "csv-parse"],
    ]) {
      if (!sources.includes(key)) continue;
      const results: { seconds: number; read: number; cpu: number; peakRssMb: number }[] = [];
      for (let i = 0; i < runs; i++) {
        const child = spawnSync(
          process.execPath,
          ["--import", "tsx", import.meta.filename, "--child", input, join(root, "out"), engine],
          { encoding: "utf8" },
        );
        if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`);
        results.push(JSON.parse(child.stdout.trim().split("\n").pop() as string));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const total = median(results.map((r) => r.seconds));
      const read = median(results.map((r) => r.read));
      const cpu = median(results.map((r) => r.cpu));
      const rss = median(results.map((r) => r.peakRssMb));
      console.log(
        `| ${name} | ${total.toFixed(1)} | ${read.toFixed(1)} | ${cpu.toFixed(1)} | ${(csvMb / total).toFixed(1)} | ${(csvMb / read).toFixed(1)} | ${(csvMb / cpu).toFixed(1)} | ${Math.round(rss)} |`,
      );
    }
  } finally {
    await cluster.stop();
    if (!kept) rmSync(root, { recursive: true, force: true });
  }
}

/** Writes patients, admissions and diagnoses_icd with MIMIC-IV's columns (seeded, ICD-9 and ICD-10). */
async function generate(dir: string, nPatients: number, nAdmissions: number, nDiagnoses: number): Promise<void> {
  const rand = seededRandom(7);
  const write = async (
    table: string,
    header: string,
    rows: (emit: (line: string) => Promise<void>) => Promise<void>,
  ) => {
    const out = createWriteStream(join(dir, `${table}.csv`));
    const emit = async (line: string) => {
      if (!out.write(`${line}\n`)) await once(out, "drain");
    };
    await emit(header);
    await rows(emit);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  };
  await write("patients", "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod", async (emit) => {
    for (let i = 1; i <= nPatients; i++)
      await emit(
        `${10_000_000 + i},${rand() < 0.5 ? "F" : "M"},${uniformInt(rand, 18, 91)},${uniformInt(rand, 2110, 2190)},2008 - 2010,`,
      );
  });
  const hadm = (i: number) => 20_000_000 + i;
  await write(
    "admissions",
    "subject_id,hadm_id,admittime,dischtime,deathtime,admission_type,admit_provider_id,admission_location,discharge_location,insurance,language,marital_status,race,edregtime,edouttime,hospital_expire_flag",
    async (emit) => {
      for (let i = 1; i <= nAdmissions; i++) {
        const subject = 10_000_000 + ((i - 1) % nPatients) + 1;
        const year = 2110 + Math.floor(((i - 1) / nPatients) * 3) + uniformInt(rand, 0, 50);
        const day = String(uniformInt(rand, 1, 28)).padStart(2, "0");
        const month = String(uniformInt(rand, 1, 12)).padStart(2, "0");
        const type = ["URGENT", "EW EMER.", "ELECTIVE", "OBSERVATION ADMIT"][uniformInt(rand, 0, 4)];
        await emit(
          `${subject},${hadm(i)},${year}-${month}-${day} 08:00:00,${year}-${month}-${day} 18:30:00,,${type},P1,EMERGENCY ROOM,HOME,Medicare,ENGLISH,SINGLE,WHITE,,,0`,
        );
      }
    },
  );
  // A skewed code distribution (a few common codes, a long tail), like real diagnoses.
  const codes = Array.from({ length: 4000 }, (_, k) => (k % 2 === 0 ? [`${4000 + k}`, 9] : [`I${100 + k}`, 10]));
  await write("diagnoses_icd", "subject_id,hadm_id,seq_num,icd_code,icd_version", async (emit) => {
    for (let i = 1; i <= nDiagnoses; i++) {
      const a = ((i - 1) % nAdmissions) + 1;
      const [code, version] = codes[Math.floor(codes.length * rand() ** 3)];
      await emit(
        `${10_000_000 + ((a - 1) % nPatients) + 1},${hadm(a)},${Math.floor((i - 1) / nAdmissions) + 1},${code},${version}`,
      );
    }
  });
}
