// HALO-Coarse (../../shared/HALO.md section 6): HALO's transformer over visits without the fine
// head: each next visit's tokens are independent Bernoullis given h_t, logit_j = h_t . e_j + b_j,
// the output weight tied to the visit embedding e (as in the official baselines/haloCoarse) plus a
// bias (started at the tokens' log-odds, as HALO's output bias is).
import type { EncodedRecord } from "../encode/types.ts";
import type { RowRules } from "../tensor/kernel-api.ts";
import type { Rng } from "../tensor/rng.ts";
import { type HaloBatch, makeBatch } from "./batch.ts";
import { drawIndependentRows, recordRowLogLikelihoods, tokenLogOdds } from "./bernoulli.ts";
import type { Dropout, ModelConfig, ModelOptions, RowSampler } from "./generator.ts";
import { CachedTransformer, type TiedHeadTensors, TransformerModel, tiedHead } from "./transformer.ts";

const { layout, bind } = tiedHead("ehr_head.bias"); // the output weight is wte

export class HaloCoarseModel extends TransformerModel<TiedHeadTensors> {
  readonly kind = "halo-coarse";
  readonly unitsPerPosition: number;
  private head: { logits: Float32Array; targets: Float32Array; dlogits: Float32Array } | null = null;

  constructor(config: ModelConfig, options: ModelOptions) {
    super({ ...config, kind: "halo-coarse" }, options, layout, bind);
    this.unitsPerPosition = this.config.nVocab;
  }

  /** The last forward's logits, (N, V): row n is the head row of batch pair n. */
  get logits(): Float32Array {
    if (this.head === null) throw new Error("No forward pass yet; call forward(batch) first");
    return this.head.logits;
  }

  protected initHead(_rng: Rng): void {} // the bias starts at 0 (initOutputBias sets it from the data)

  positions(record: EncodedRecord): number {
    return Math.min(record.visits.length, this.config.nCtx - 2) + 1;
  }

  makeBatch(records: readonly EncodedRecord[]): HaloBatch {
    return makeBatch(records as EncodedRecord[], this.config);
  }

  initOutputBias(train: readonly EncodedRecord[]): void {
    const lo = tokenLogOdds(train, this.config);
    for (let j = 0; j < lo.length; j++) this.p.bias[j] = lo[j];
  }

  /** Mean BCE per real target entry (N x V); gradScale and dropout as HaloModel.forward. */
  forward(batch: HaloBatch, gradScale?: number, dropout?: Dropout): number {
    const { nEmbd: d, nVocab: V } = this.config;
    const { N, src } = batch;
    const k = this.kernels;
    const a = this.forwardTransformer(batch, dropout);
    const head = {
      logits: this.take("logits", N * V),
      targets: this.take("targets", N * V),
      dlogits: this.take("dlogits", N * V),
    };
    this.head = head;
    k.matmulNT(head.logits, a.lnf, this.p.wte, N, d, V, 0);
    k.biasAddForward(head.logits, this.p.bias, N, V);
    head.targets.fill(0);
    for (let n = 0; n < N; n++) {
      const s = src[n];
      for (let q = batch.rowOff[s + 1]; q < batch.rowOff[s + 2]; q++) head.targets[n * V + batch.rowIdx[q]] = 1;
    }
    const rowMask = this.take("rowMask", N);
    rowMask.fill(1);
    const sum = k.sigmoidBce(head.dlogits, head.logits, head.targets, rowMask, N, V, gradScale ?? 1 / (N * V));
    return sum / (N * V);
  }

  backward(): void {
    this.backwardTiedHead(this.head?.dlogits);
  }

  recordLogLikelihoods(records: readonly EncodedRecord[], batchSize = 32): { ll: Float64Array; rows: Int32Array } {
    return recordRowLogLikelihoods(this, records, batchSize);
  }

  rowSampler(B: number): RowSampler {
    const { nEmbd: d, nVocab: V } = this.config;
    const coarse = new CachedTransformer(this.config, this.p, this.kernels, B);
    const h = new Float32Array(B * d);
    const logits = new Float32Array(B * V);
    const uniforms = new Float32Array(B * V);
    return {
      feed: (slots, rows, t) => coarse.feed(slots, rows, t),
      draw: (slots, rngs: readonly Rng[], fixed: Int8Array | null, rules: RowRules | undefined, x) => {
        const n = slots.length;
        slots.forEach((s, r) => {
          h.set(coarse.h.subarray(s * d, s * d + d), r * d);
          rngs[r].fillUniform(uniforms.subarray(r * V, r * V + V), V);
        });
        const z = logits.subarray(0, n * V);
        this.kernels.matmulNT(z, h.subarray(0, n * d), this.p.wte, n, d, V, 0);
        this.kernels.biasAddForward(z, this.p.bias, n, V);
        drawIndependentRows(x, z, uniforms, fixed, n, V, rules);
      },
    };
  }
}
