// The contract between the model and its compute kernels. Two implementations exist, the native
// addon and the TypeScript fallback; both compute the same thing (tests compare them).
// Conventions (llm.c): outputs first, then inputs, weights, sizes. Row-major Float32Arrays.
// Backward kernels ACCUMULATE (+=) into gradient outputs. `beta` = 0 overwrites, 1 accumulates.
// Lower-triangular ("tri") weights are stored packed: row o holds W[o][0..o] at offset o*(o+1)/2,
// D*(D+1)/2 floats in all. A tri weight maps D inputs to D outputs; output o sees inputs 0..o.

export interface Kernels {
  /** "native" or "typescript": which implementation this is. */
  readonly name: "native" | "typescript";

  // ---- dense matrix products ----
  /** C[M,N] = beta*C + A[M,K] @ B[K,N] */
  matmulNN(C: Float32Array, A: Float32Array, B: Float32Array, M: number, K: number, N: number, beta: number): void;
  /** C[M,N] = beta*C + A[M,K] @ B[N,K]^T  (linear forward with a PyTorch-layout weight [out,in]) */
  matmulNT(C: Float32Array, A: Float32Array, B: Float32Array, M: number, K: number, N: number, beta: number): void;
  /** C[M,N] = beta*C + A[K,M]^T @ B[K,N]  (weight gradient) */
  matmulTN(C: Float32Array, A: Float32Array, B: Float32Array, M: number, K: number, N: number, beta: number): void;

  // ---- lower-triangular masked weight W (packed, D x D), only the triangle computed ----
  /** Y[M,D] = beta*Y + X[M,D] @ tri(W)^T : Y[m,o] = sum_{i<=o} X[m,i] W[o,i] */
  triForward(Y: Float32Array, X: Float32Array, Wp: Float32Array, M: number, D: number, beta: number): void;
  /** dX[M,D] += dY[M,D] @ tri(W) : dX[m,i] += sum_{o>=i} dY[m,o] W[o,i] */
  triBackwardInput(dX: Float32Array, dY: Float32Array, Wp: Float32Array, M: number, D: number): void;
  /** dWp (packed) += tri(dY^T @ X) : dW[o,i] += sum_m dY[m,o] X[m,i], i <= o */
  triBackwardWeight(dWp: Float32Array, dY: Float32Array, X: Float32Array, M: number, D: number): void;

  // ---- embedding bag over multi-hot rows (sparse): row n = sum of W rows listed in idx[off[n]..off[n+1]) ----
  /** out[N,C] = beta*out + sum_k W[idx[k], :] over k in row n */
  embeddingBagForward(
    out: Float32Array,
    idx: Int32Array,
    off: Int32Array,
    W: Float32Array,
    N: number,
    C: number,
    beta: number,
  ): void;
  /** dW[idx[k], :] += dout[n, :] for every k in row n */
  embeddingBagBackward(
    dW: Float32Array,
    dout: Float32Array,
    idx: Int32Array,
    off: Int32Array,
    N: number,
    C: number,
  ): void;

  // ---- layer norm over the last dim (eps 1e-5), caching mean and rstd for backward ----
  layernormForward(
    out: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    inp: Float32Array,
    w: Float32Array,
    b: Float32Array,
    N: number,
    C: number,
  ): void;
  layernormBackward(
    dinp: Float32Array,
    dw: Float32Array,
    db: Float32Array,
    dout: Float32Array,
    inp: Float32Array,
    w: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    N: number,
    C: number,
  ): void;

  // ---- tanh-approximate GELU ----
  geluForward(out: Float32Array, inp: Float32Array, n: number): void;
  geluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number): void;

  // ---- elementwise: ReLU (between the two masked head layers), residual add, bias ----
  /** out[i] = max(inp[i], 0) */
  reluForward(out: Float32Array, inp: Float32Array, n: number): void;
  /** dinp[i] += inp[i] > 0 ? dout[i] : 0 */
  reluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number): void;
  /** a[i] += b[i] (residual add; also the residual's backward, which passes the gradient through) */
  addInPlace(a: Float32Array, b: Float32Array, n: number): void;
  /** out[N,C] += bias[C] on every row */
  biasAddForward(out: Float32Array, bias: Float32Array, N: number, C: number): void;
  /** dbias[C] += sum over rows of dout[N,C] */
  biasAddBackward(dbias: Float32Array, dout: Float32Array, N: number, C: number): void;

  /**
   * Fill one row of B records token by token (HALO.md section 4) with the masked head updated incrementally.
   * d = hidden size, V = full vocabulary (codes+labels+3 specials), D = d + V.
   * a1 [B,D] in/out: layer-1 pre-activations holding bias + the h contribution only:
   *   a1[b,o] = b1[o] + sum_{i<d, i<=o} W1[o,i] h[b,i]. Updated in place as tokens are set.
   * W1p, W2p: packed lower-triangular D x D weights; b2 [D].
   * x [B,V] out: the row (0/1). Token j of record b: logit = b2[o] + sum_{k<=o} W2[o,k]*relu(a1[b,k]) with o = d-1+j;
   *   if fixed != null and fixed[b*V+j] >= 0 the value is forced to fixed[b*V+j], else
   *   x = (uniforms[b*V+j] < sigmoid(logit)) ? 1 : 0.
   *   When x[b,j] becomes 1: a1[b,o'] += W1[o', d+j] for all o' >= d+j.
   * probs [B,V] out (may be null): the sigmoid probability of each token given the tokens before it.
   * rules (optional): structure every row must obey (see RowRules); absent: plain HALO draws.
   */
  madeSampleRow(
    x: Float32Array,
    probs: Float32Array | null,
    a1: Float32Array,
    W1p: Float32Array,
    W2p: Float32Array,
    b2: Float32Array,
    uniforms: Float32Array,
    fixed: Int8Array | null,
    B: number,
    d: number,
    V: number,
    rules?: RowRules,
  ): void;

  /**
   * Causal multi-head self-attention over T positions, like llm.c.
   * qkv [B,T,3C] (q, k, v concatenated, heads of size C/NH inside each), out [B,T,C],
   * att [B,NH,T,T] cached softmax (row t zero beyond t). Scores scaled by 1/sqrt(C/NH).
   */
  attentionForward(
    out: Float32Array,
    att: Float32Array,
    qkv: Float32Array,
    B: number,
    T: number,
    C: number,
    NH: number,
  ): void;
  /** dqkv += grad of the above, given dout and the cached att. */
  attentionBackward(
    dqkv: Float32Array,
    dout: Float32Array,
    qkv: Float32Array,
    att: Float32Array,
    B: number,
    T: number,
    C: number,
    NH: number,
  ): void;

  /**
   * Sigmoid + binary cross-entropy with a row mask, numerically stable (log-sum-exp form).
   * logits/targets [N,V], rowMask [N] (0 or 1). Returns sum over masked rows of sum_j bce.
   * Writes dlogits[N,V] = scale * rowMask[n] * (sigmoid(logit) - target) (overwrites).
   */
  sigmoidBce(
    dlogits: Float32Array,
    logits: Float32Array,
    targets: Float32Array,
    rowMask: Float32Array,
    N: number,
    V: number,
    scale: number,
  ): number;

  /** Adam (PyTorch semantics, bias-corrected, no weight decay when wd = 0). t is the 1-based step. */
  adamStep(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    wd: number,
    t: number,
  ): void;

  /** avg[i] += w * (p[i] - avg[i]): one step of the weights' moving average (w = 1 - decay) */
  emaUpdate(avg: Float32Array, p: Float32Array, n: number, w: number): void;
}

/**
 * Structure a sampled row obeys, departing from plain HALO draws (src/sample/structure.ts says why).
 * group [V]: -1, or the group g of token j. A group's tokens are contiguous in j. Within a row at most
 *   one token of a group is on, drawn as ONE categorical draw: with p_m the head's probability of
 *   member m given the tokens before it and no earlier member on (the chain's own values), member i is
 *   the first one on with weight w_i = p_i * prod_{m<i} (1 - p_m), none with prod_m (1 - p_m). For a
 *   required group "none" is left out: required[g] = 1 renormalises the weights, required[g] = 2 gives
 *   none's weight to the last free member (the first members keep the head's chances), and
 *   required[g] = 3 renormalises the members' own p_i instead of the chain's weights (for a head that
 *   has not learnt how a member's chance grows once the earlier ones are off: structure.ts). The draw uses
 *   the uniform of the group's first token and is made at its last token; the chosen token then
 *   conditions every later token. Fixed entries still win: a member fixed on is the group's choice,
 *   members fixed off are left out of the draw; a group with every member fixed off stays empty.
 * era [V]: -1, or the code-system era of token j: once a token of one era is on, tokens of another era
 *   are off for the rest of the row.
 */
export interface RowRules {
  group: Int32Array | null;
  required: Uint8Array | null;
  era: Int8Array | null;
}
