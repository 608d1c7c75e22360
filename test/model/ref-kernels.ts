// Naive reference Kernels for the model tests: plain loops, double-precision accumulation.
// Independent of src/tensor so the model is tested against the contract, not one implementation.
import type { Kernels } from "../../src/tensor/kernel-api.ts";

const GELU_S = Math.sqrt(2 / Math.PI);

export const refKernels: Kernels = {
  name: "typescript",
  matmulNN(C, A, B, M, K, N, beta) {
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = beta === 0 ? 0 : beta * C[m * N + n];
        for (let k = 0; k < K; k++) s += A[m * K + k] * B[k * N + n];
        C[m * N + n] = s;
      }
  },
  matmulNT(C, A, B, M, K, N, beta) {
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = beta === 0 ? 0 : beta * C[m * N + n];
        for (let k = 0; k < K; k++) s += A[m * K + k] * B[n * K + k];
        C[m * N + n] = s;
      }
  },
  matmulTN(C, A, B, M, K, N, beta) {
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = beta === 0 ? 0 : beta * C[m * N + n];
        for (let k = 0; k < K; k++) s += A[k * M + m] * B[k * N + n];
        C[m * N + n] = s;
      }
  },
  triForward(Y, X, Wp, M, D, beta) {
    for (let m = 0; m < M; m++)
      for (let o = 0; o < D; o++) {
        let s = beta === 0 ? 0 : beta * Y[m * D + o];
        const row = (o * (o + 1)) / 2;
        for (let i = 0; i <= o; i++) s += X[m * D + i] * Wp[row + i];
        Y[m * D + o] = s;
      }
  },
  triBackwardInput(dX, dY, Wp, M, D) {
    for (let m = 0; m < M; m++)
      for (let o = 0; o < D; o++) {
        const row = (o * (o + 1)) / 2;
        for (let i = 0; i <= o; i++) dX[m * D + i] += dY[m * D + o] * Wp[row + i];
      }
  },
  triBackwardWeight(dWp, dY, X, M, D) {
    for (let o = 0; o < D; o++) {
      const row = (o * (o + 1)) / 2;
      for (let i = 0; i <= o; i++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += dY[m * D + o] * X[m * D + i];
        dWp[row + i] += s;
      }
    }
  },
  embeddingBagForward(out, idx, off, W, N, C, beta) {
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        let s = beta === 0 ? 0 : beta * out[n * C + c];
        for (let k = off[n]; k < off[n + 1]; k++) s += W[idx[k] * C + c];
        out[n * C + c] = s;
      }
  },
  embeddingBagBackward(dW, dout, idx, off, N, C) {
    for (let n = 0; n < N; n++)
      for (let k = off[n]; k < off[n + 1]; k++) for (let c = 0; c < C; c++) dW[idx[k] * C + c] += dout[n * C + c];
  },
  layernormForward(out, mean, rstd, inp, w, b, N, C) {
    for (let n = 0; n < N; n++) {
      let m = 0;
      for (let c = 0; c < C; c++) m += inp[n * C + c];
      m /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (inp[n * C + c] - m) ** 2;
      const r = 1 / Math.sqrt(v / C + 1e-5);
      for (let c = 0; c < C; c++) out[n * C + c] = (inp[n * C + c] - m) * r * w[c] + b[c];
      mean[n] = m;
      rstd[n] = r;
    }
  },
  layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C) {
    for (let n = 0; n < N; n++) {
      let dnormMean = 0;
      let dnormNormMean = 0;
      for (let c = 0; c < C; c++) {
        const norm = (inp[n * C + c] - mean[n]) * rstd[n];
        const dnorm = w[c] * dout[n * C + c];
        dnormMean += dnorm;
        dnormNormMean += dnorm * norm;
      }
      dnormMean /= C;
      dnormNormMean /= C;
      for (let c = 0; c < C; c++) {
        const norm = (inp[n * C + c] - mean[n]) * rstd[n];
        const dnorm = w[c] * dout[n * C + c];
        db[c] += dout[n * C + c];
        dw[c] += norm * dout[n * C + c];
        dinp[n * C + c] += (dnorm - dnormMean - norm * dnormNormMean) * rstd[n];
      }
    }
  },
  geluForward(out, inp, n) {
    for (let i = 0; i < n; i++) {
      const x = inp[i];
      out[i] = 0.5 * x * (1 + Math.tanh(GELU_S * (x + 0.044715 * x * x * x)));
    }
  },
  geluBackward(dinp, inp, dout, n) {
    for (let i = 0; i < n; i++) {
      const x = inp[i];
      const u = GELU_S * (x + 0.044715 * x * x * x);
      const t = Math.tanh(u);
      const du = GELU_S * (1 + 3 * 0.044715 * x * x);
      dinp[i] += dout[i] * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du);
    }
  },
  attentionForward(out, att, qkv, B, T, C, NH) {
    const hs = C / NH;
    const scale = 1 / Math.sqrt(hs);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < NH; h++)
        for (let t = 0; t < T; t++) {
          const q = (b * T + t) * 3 * C + h * hs;
          const arow = ((b * NH + h) * T + t) * T;
          let max = Number.NEGATIVE_INFINITY;
          const s = new Float64Array(t + 1);
          for (let u = 0; u <= t; u++) {
            const k = (b * T + u) * 3 * C + C + h * hs;
            let dot = 0;
            for (let i = 0; i < hs; i++) dot += qkv[q + i] * qkv[k + i];
            s[u] = dot * scale;
            max = Math.max(max, s[u]);
          }
          let sum = 0;
          for (let u = 0; u <= t; u++) {
            s[u] = Math.exp(s[u] - max);
            sum += s[u];
          }
          for (let u = 0; u < T; u++) att[arow + u] = u <= t ? s[u] / sum : 0;
          for (let i = 0; i < hs; i++) {
            let o = 0;
            for (let u = 0; u <= t; u++) o += att[arow + u] * qkv[(b * T + u) * 3 * C + 2 * C + h * hs + i];
            out[(b * T + t) * C + h * hs + i] = o;
          }
        }
  },
  attentionBackward(dqkv, dout, qkv, att, B, T, C, NH) {
    const hs = C / NH;
    const scale = 1 / Math.sqrt(hs);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < NH; h++)
        for (let t = 0; t < T; t++) {
          const arow = ((b * NH + h) * T + t) * T;
          const datt = new Float64Array(t + 1);
          const dO = (b * T + t) * C + h * hs;
          for (let u = 0; u <= t; u++) {
            const v = (b * T + u) * 3 * C + 2 * C + h * hs;
            for (let i = 0; i < hs; i++) {
              datt[u] += dout[dO + i] * qkv[v + i];
              dqkv[v + i] += att[arow + u] * dout[dO + i];
            }
          }
          let dot = 0;
          for (let u = 0; u <= t; u++) dot += att[arow + u] * datt[u];
          const q = (b * T + t) * 3 * C + h * hs;
          for (let u = 0; u <= t; u++) {
            const dpre = att[arow + u] * (datt[u] - dot) * scale;
            const k = (b * T + u) * 3 * C + C + h * hs;
            for (let i = 0; i < hs; i++) {
              dqkv[q + i] += dpre * qkv[k + i];
              dqkv[k + i] += dpre * qkv[q + i];
            }
          }
        }
  },
  sigmoidBce(dlogits, logits, targets, rowMask, N, V, scale) {
    let sum = 0;
    for (let n = 0; n < N; n++)
      for (let j = 0; j < V; j++) {
        const i = n * V + j;
        const x = logits[i];
        const y = targets[i];
        if (rowMask[n] !== 0) sum += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
        dlogits[i] = scale * rowMask[n] * (1 / (1 + Math.exp(-x)) - y);
      }
    return sum;
  },
  adamStep(p, g, m, v, n, lr, beta1, beta2, eps, wd, t) {
    for (let i = 0; i < n; i++) {
      const grad = g[i] + wd * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * grad;
      v[i] = beta2 * v[i] + (1 - beta2) * grad * grad;
      const mh = m[i] / (1 - beta1 ** t);
      const vh = v[i] / (1 - beta2 ** t);
      p[i] -= lr * (mh / (Math.sqrt(vh) + eps));
    }
  },
};
