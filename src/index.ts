/**
 * halo-ehr as a library: read an EHR export, encode it for HALO, train, sample synthetic patients,
 * write them back in the source's format and evaluate them against the real data.
 *
 * ```ts
 * import { ingest, train, generate, writeRecords } from "halo-ehr";
 * const data = await ingest("omop-export/", { out: "data/omop", quiet: true });
 * await train(data.out, { out: "runs/omop", preset: "small", maxMinutes: 30 });
 * await writeRecords(generate("runs/omop", { count: 1000 }), "synthetic/omop", { format: "omop" });
 * ```
 *
 * Every stage is also a command (`halo-ehr ingest|train|generate|evaluate|benchmark|demo`), a thin layer over
 * these functions. Inputs that cannot be read are rejected with an error naming the file, line or
 * record and field; skipped rows are counted, never dropped silently; outputs are written atomically.
 *
 * @packageDocumentation
 */
import { defaultRunDir, runTraining, type TrainControl } from "./api/train.ts";
import type { TrainOptions } from "./train/options.ts";
import type { TrainResult } from "./train/train.ts";

export {
  BENCHMARK_MODELS,
  type BenchmarkOptions,
  type BenchmarkResult,
  type BenchmarkRow,
  type BenchmarkRun,
  type BenchmarkTable,
  formatBenchmark,
  runBenchmark as benchmark,
} from "./api/benchmark.ts";
export { type EvaluateOptions, runEvaluate as evaluate } from "./api/evaluate.ts";
export {
  type GenerateOptions,
  type GenerateSummary,
  runGenerate as generateTo,
  type SampleOptions,
  sampleRecords as generate,
} from "./api/generate.ts";
export { type IngestOptions, type IngestSummary, runIngest as ingest } from "./api/ingest.ts";
export {
  type EncodeSource,
  encode,
  type ReadRecordsOptions,
  type ReadReport,
  readRecords,
  saveEncoded,
  type WriteRecordsOptions,
  writeRecords,
} from "./api/records.ts";
export { defaultRunDir, type TrainControl } from "./api/train.ts";
export { loadDataset } from "./encode/dataset-file.ts";
export type { EncodeOptions, EncodeSummary } from "./encode/encode-dataset.ts";
export type {
  CodeToken,
  EncodedDataset,
  EncodedRecord,
  EncodingInfo,
  LabelMatch,
  LabelToken,
  Split,
  TokenKind,
  VocabStructure,
  Vocabulary,
} from "./encode/types.ts";
export type { CeilingResult, CeilingRow, ChunkPlan, LabelCeiling, Spread } from "./evaluate/ceiling.ts";
export type { Distribution } from "./evaluate/distribution.ts";
export type { DecodedRecord, EvaluationResult, ShapeRow } from "./evaluate/evaluate-synthetic.ts";
export type { FidelityResult, TableFidelity, TablePoints, TypeFidelity } from "./evaluate/fidelity.ts";
export type { Perplexity } from "./evaluate/perplexity.ts";
export type {
  AnonymeterRisks,
  AttributeInference,
  InferenceScores,
  MembershipAttack,
  Nnaa,
  PrivacyResult,
} from "./evaluate/privacy.ts";
export type { DcrSide, DistanceToClosestRecord, ExposedRecord, Exposure } from "./evaluate/privacy-dcr.ts";
export type { DensityRatioAttack } from "./evaluate/privacy-density-ratio.ts";
export type { AttackRisk, Estimate } from "./evaluate/privacy-risk.ts";
export type { SinglingOut } from "./evaluate/privacy-singling-out.ts";
export type { TableName } from "./evaluate/probability-tables.ts";
export type { LabelUtility, Scores, UtilityResult } from "./evaluate/utility.ts";
export type { Counter, FormatChecks, LabelAgreement, Plausibility, SexCounts } from "./evaluate/validity.ts";
export {
  type ClinicalEvent,
  type CodeSystem,
  type EventKind,
  IngestError,
  type PatientRecord,
  type Sex,
  type SourceFormat,
  type Visit,
} from "./ingest/record.ts";
export type { SourceProfile } from "./ingest/source-profile.ts";
export type { WriteResult } from "./ingest/table-writer.ts";
export type { HaloConfig, HaloShape } from "./model/config.ts";
export type { DpOptions, DpRecord, DpSettings } from "./train/dp.ts";
export { defaultTrainOptions, type ModelOverrides, type TrainOptions } from "./train/options.ts";
export type { StopReason, TrainEvent, TrainResult } from "./train/train.ts";

/** Options of {@link train}: any training option (the rest take their defaults), and how to watch and stop it. */
export type TrainArgs = Partial<TrainOptions> & TrainControl;

/**
 * Trains HALO on a dataset folder (written by {@link ingest} or {@link saveEncoded}), in a worker
 * thread, into `out` (default halo-runs/<dataset name>): the best validation checkpoint in `out/best`
 * (what {@link generate} samples from), the latest in `out/last`.
 *
 * Progress comes as events to `onProgress`. Aborting `signal` saves `out/last` after the current step
 * and resolves with reason "interrupted" (so does a first Ctrl-C or SIGTERM to the process while
 * training; a second one ends it); `resume: true` continues the run from `out/last` (limits may
 * change, the model and data may not). A fresh run refuses an `out` holding an earlier run unless `force`.
 * `dp: { epsilon, delta?, clip?, noise? }` trains with DP-SGD (one patient record as the privacy unit) and
 * stops before spending more than `epsilon`; each checkpoint's config.json records its `dp` (epsilon spent).
 */
export async function train(datasetDir: string, args: TrainArgs = {}): Promise<TrainResult> {
  const { force, onProgress, signal, ...options } = args;
  return runTraining(
    datasetDir,
    { ...options, out: options.out ?? defaultRunDir(datasetDir) },
    { force, onProgress, signal },
  );
}
