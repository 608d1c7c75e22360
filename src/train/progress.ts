// Shows training progress: a live bar (loss, validation loss, records/s, ETA) on a terminal, with
// evaluations logged above it; plain, timestamp-free log lines when the output is not a terminal
// (CI, files), at most one step line every `logSeconds` so logs stay short.
import cliProgress from "cli-progress";
import type { DpOptions, DpSettings } from "./dp.ts";
import type { TrainEvent, TrainResult } from "./train.ts";

const modelNames = { halo: "HALO", "halo-coarse": "HALO-Coarse", gpt: "GPT", lstm: "LSTM" } as const;

export interface ProgressDisplay {
  onEvent(event: TrainEvent): void;
  /** Ends the bar and prints the outcome. */
  finish(result: TrainResult): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : "-");

function dpLine(dp: DpOptions): string {
  const s = dp as DpSettings;
  return (
    `DP-SGD: target epsilon ${s.epsilon} at delta ${s.delta.toExponential(2)}, per-record clip ${s.clip}, ` +
    `noise multiplier ${s.noise.toFixed(4)}, Poisson sampling rate ${s.samplingRate.toFixed(4)}.`
  );
}

export function progressDisplay(stream: NodeJS.WriteStream = process.stderr, logSeconds = 10): ProgressDisplay {
  const tty = stream.isTTY === true;
  const log = (line: string) => (multi ? multi.log(`${line}\n`) : stream.write(`${line}\n`));
  let multi: cliProgress.MultiBar | null = null;
  let bar: cliProgress.SingleBar | null = null;
  let firstStep = 0;
  let lastLine = Number.NEGATIVE_INFINITY;
  let val = Number.NaN;
  let epsilon: number | undefined;

  return {
    onEvent(e) {
      switch (e.type) {
        case "start": {
          const c = e.config;
          const gpt = e.options.modelKind === "gpt"; // its nCtx counts tokens and its loss is per token
          stream.write(
            `${e.resumed ? "Resuming" : "Training"} ${modelNames[e.options.modelKind]} (${e.options.preset}: ${c.nLayer} layers, width ${c.nEmbd}, ` +
              `${c.nHead} heads, ${c.nCtx} ${gpt ? "token positions" : "visit slots"}; V = ${c.nVocab}; ${count(e.parameters)} parameters, ` +
              `${e.kernels} kernels) on ${e.trainRecords} records, validating on ${e.validationRecords}.\n` +
              `Batch ${e.options.batchSize}, ${e.stepsPerEpoch} steps per epoch, lr ${e.options.lr}. ` +
              `Independent-Bernoulli baseline validation loss: ${fmt(e.baselineValLoss)}${gpt ? " (per code entry; GPT's loss is per token)" : ""}.\n` +
              (e.truncated.records === 0
                ? ""
                : `${e.truncated.records} of ${e.trainRecords} training records are longer than ` +
                  `${gpt ? `${c.nCtx} tokens` : `${c.nCtx - 2} visits`} and are cut there ` +
                  `(${e.truncated.visits} visits left out); --n-ctx raises the limit.\n`) +
              (e.options.dp ? `${dpLine(e.options.dp)}\n` : ""),
          );
          firstStep = e.step;
          if (tty) {
            multi = new cliProgress.MultiBar(
              {
                stream,
                format:
                  "{bar} {value}/{total} steps | epoch {epoch} | loss {loss}{eps} | val {val} | {rate} rec/s | ETA {eta}",
                hideCursor: true,
                barsize: 24,
              },
              cliProgress.Presets.shades_classic,
            );
            bar = multi.create(e.totalSteps, 0, {
              epoch: e.epoch + 1,
              loss: "-",
              eps: "",
              val: "-",
              rate: "-",
              eta: "?",
            });
          }
          break;
        }
        case "step": {
          const payload = {
            epoch: e.epoch + 1,
            loss: fmt(e.loss),
            val: fmt(val),
            rate: e.recordsPerSecond.toFixed(1),
            eta: duration(e.etaSeconds),
            eps: e.epsilon === undefined ? "" : ` | eps ${e.epsilon.toFixed(3)}`,
          };
          epsilon = e.epsilon;
          if (bar) bar.update(e.step - firstStep, payload);
          else if (performance.now() - lastLine > logSeconds * 1000) {
            lastLine = performance.now();
            stream.write(
              `step ${e.step} epoch ${payload.epoch} loss ${payload.loss}${payload.eps} | ${payload.rate} rec/s | ETA ${payload.eta}\n`,
            );
          }
          break;
        }
        case "eval":
          val = e.valLoss;
          bar?.update({ val: fmt(val) });
          log(
            `step ${e.step} epoch ${e.epoch + 1}: validation loss ${fmt(e.valLoss)}` +
              (e.improved ? " (best so far)" : ` (best ${fmt(e.bestValLoss)})`),
          );
          break;
        case "checkpoint":
          break;
        case "member":
          multi?.stop();
          multi = null;
          bar = null;
          stream.write(`\nMixture member ${e.member} of ${e.of} (seed ${e.seed}), into ${e.dir}:\n`);
          break;
      }
    },
    finish(r) {
      multi?.stop();
      const why = {
        epochs: "reached the epoch limit",
        steps: "reached the step limit",
        time: "reached the time limit",
        "early-stop": "stopped early: the validation loss stopped improving",
        interrupted: "interrupted; resume with --resume",
        "privacy-budget": "another step would spend more than the target epsilon",
      }[r.reason];
      const best = Number.isFinite(r.bestValLoss)
        ? r.keptStep === r.bestStep
          ? `Best validation loss ${fmt(r.bestValLoss)} at step ${r.bestStep} (in ${r.out}/best)`
          : `Kept step ${r.keptStep}, the latest evaluation (too few validation records to select on), in ${r.out}/best; best validation loss ${fmt(r.bestValLoss)} at step ${r.bestStep}`
        : "No validation yet";
      stream.write(
        `Stopped at step ${r.step} (${why}). ${best}; independent-Bernoulli baseline ${fmt(r.baselineValLoss)}.\n` +
          (epsilon === undefined
            ? ""
            : `Privacy spent: epsilon ${epsilon.toFixed(3)} (each checkpoint records its own).\n`) +
          (r.endCalibration?.correction.length
            ? `Record ends calibrated to the training split's visit counts (${r.endCalibration.groups.length} groups of visits; generate --no-end-correction leaves it out).\n`
            : "") +
          (r.ownDraws?.length
            ? `Drawn from the head's own probabilities rather than its chain: ${r.ownDraws.join(", ")} (it scored the training split's members better).\n`
            : "") +
          (r.mixture
            ? `A mixture of ${r.mixture.length + 1} models (${r.out}/best and ${r.mixture.join(", ")}): generate draws each record from one of them in turn.\n`
            : "") +
          (r.step > 0 ? `Latest state for --resume: ${r.out}/last.\n` : ""),
      );
    },
  };
}
