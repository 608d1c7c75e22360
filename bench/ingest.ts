// Ingest throughput: reads + encodes + saves each dataset (default: the shared Synthea FHIR set and the
// MIMIC-III demo) in its own child process, so peak RSS is that dataset's alone, then times loadDataset.
// Usage: node --import tsx bench/ingest.ts [path ...]   (options: --runs N, --labs)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runIngest } from "../src/cli/ingest.ts";
import { loadDataset } from "../src/encode/dataset-file.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 3) || 3;
const paths = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--runs");

/** Bytes of the input as stored (compressed files count compressed): a file, or a folder's files. */
function inputBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, name) => {
    const s = statSync(join(path, name));
    return s.isFile() ? n + s.size : n;
  }, 0);
}

if (flag("--child")) {
  const path = paths[0];
  const out = mkdtempSync(join(tmpdir(), "halo-bench-ingest-"));
  const times: number[] = [];
  let summary: Awaited<ReturnType<typeof runIngest>> | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    summary = await runIngest(path, { out, quiet: true, labs: flag("--labs") });
    times.push((performance.now() - t0) / 1000);
  }
  const t0 = performance.now();
  const ds = await loadDataset(out);
  const loadSeconds = (performance.now() - t0) / 1000;
  rmSync(out, { recursive: true, force: true });
  const best = Math.min(...times);
  const s = summary as NonNullable<typeof summary>;
  console.log(
    JSON.stringify({
      path,
      format: s.format,
      patients: s.patients,
      encoded: ds.splits.train.length + ds.splits.validation.length + ds.splits.test.length,
      visits: s.visits,
      vocab: s.vocabulary.codes,
      mb: inputBytes(path) / 1e6,
      best,
      read: s.seconds.read,
      encode: s.seconds.encode,
      loadSeconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
} else {
  const data = join(import.meta.dirname, "..", "..", "shared", "data");
  const targets = paths.length
    ? paths
    : [join(data, "synthea-stu3-smart-1461", "bundles.ndjson.gz"), join(data, "mimic-iii-demo-1.4")];
  console.log(
    `ingest + encode + save, best of ${runs} runs${flag("--labs") ? ", labs on" : ""}; node ${process.version}`,
  );
  for (const path of targets) {
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        import.meta.filename,
        "--child",
        "--runs",
        String(runs),
        ...(flag("--labs") ? ["--labs"] : []),
        path,
      ],
      { encoding: "utf8" },
    );
    if (child.status !== 0) {
      console.log(`${path}: failed\n${child.stderr}`);
      continue;
    }
    const r = JSON.parse(child.stdout.trim().split("\n").pop() as string);
    console.log(
      `${r.format} ${path}\n  ${r.patients} patients (${r.encoded} encoded), ${r.visits} visits, ${r.vocab} code tokens; ` +
        `${r.mb.toFixed(1)} MB on disk\n  ${r.best.toFixed(2)} s (last run: read ${r.read.toFixed(2)}, encode ${r.encode.toFixed(2)}): ` +
        `${Math.round(r.patients / r.best)} records/s, ${(r.mb / r.best).toFixed(1)} MB/s; ` +
        `peak RSS ${Math.round(r.peakRssMb)} MB; loadDataset ${(r.loadSeconds * 1000).toFixed(0)} ms`,
    );
  }
}
