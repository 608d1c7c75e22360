// `halo-ehr benchmark <dataset> [--models halo,...] [--minutes m] [--seeds k] [--out dir]`: parses the
// options, runs runBenchmark (src/api/benchmark.ts), which trains, samples and evaluates every model
// and seed and writes benchmark.md, benchmark.json and benchmark.html, and prints the table.
import type { Command } from "commander";
import { BENCHMARK_MODELS, formatBenchmark, runBenchmark } from "../api/benchmark.ts";
import { positiveNumber, wholeNumber } from "./option-parsers.ts";

interface BenchmarkFlags {
  models: string;
  minutes: number;
  seeds: number;
  out?: string;
  force?: boolean;
}

export function registerBenchmark(program: Command): void {
  program
    .command("benchmark")
    .description("train, sample and evaluate several models with the same budget; one table of the results")
    .argument("<dataset>", "dataset folder written by `halo-ehr ingest`")
    .option("--models <list>", "comma-separated models to compare", BENCHMARK_MODELS.join(","))
    .option("--minutes <m>", "minutes of training per model and seed", positiveNumber, 2)
    .option("--seeds <k>", "seeds per model (1..k); the table shows mean ± sd over them", wholeNumber(1, 100), 2)
    .option("--out <dir>", "output folder (default: halo-benchmark/<dataset name>)")
    .option("--force", "replace earlier results in --out")
    .action(async (dataset: string, flags: BenchmarkFlags) => {
      const result = await runBenchmark(dataset, {
        models: flags.models.split(",").map((m) => m.trim()),
        minutes: flags.minutes,
        seeds: flags.seeds,
        out: flags.out,
        force: flags.force,
        onProgress: (line) => console.error(`benchmark: ${line}`),
      });
      console.log(formatBenchmark(result, "text"));
      console.log(`wrote ${["benchmark.md", "benchmark.json", "benchmark.html"].join(", ")} in ${result.out}`);
    });
}
