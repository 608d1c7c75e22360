// A training batch in HALO's matrix form (../../shared/HALO.md section 1), kept sparse.
// Rows per record: 0 start, 1 labels, 2..T+1 visits (end token inside the last visit), then pad rows
// up to the batch's longest record. The head only sees real (row t -> row t+1) pairs, packed.

import type { EncodedRecord } from "../encode/types.ts";
import type { HaloConfig } from "./config.ts";

export interface HaloBatch {
  /** Records in the batch. */
  B: number;
  /** Rows per record after padding: longest record's row count (visits + 2), <= nCtx. */
  T: number;
  /** Token ids of every row, rows in (B, T) order: the multi-hot matrix in sparse form. */
  rowIdx: Int32Array;
  /** (B*T + 1) offsets: row r holds rowIdx[rowOff[r] .. rowOff[r+1]). */
  rowOff: Int32Array;
  /** Head rows: the real (row t -> row t+1) pairs of all records, packed. */
  N: number;
  /** (N) flat row b*T+t whose h_t feeds head row n; the target is flat row b*T+t+1. */
  src: Int32Array;
}

/** The matrix rows of one record as ascending token ids, truncated to nCtx rows. */
export function recordRows(r: EncodedRecord, c: HaloConfig): Int32Array[] {
  const C = c.nCodes;
  const start = C + c.nLabels;
  const end = start + 1;
  if (r.visits.length === 0) {
    throw new Error(`Record ${r.id} has no visits; HALO needs at least one (drop empty records when encoding)`);
  }
  const labels = new Int32Array(r.labels.length);
  for (let i = 0; i < labels.length; i++) {
    const k = r.labels[i];
    if (k < 0 || k >= c.nLabels) throw new Error(`Record ${r.id} has label id ${k} outside 0..${c.nLabels - 1}`);
    labels[i] = C + k;
  }
  const visits = r.visits.slice(0, c.nCtx - 2);
  const rows = [Int32Array.of(start), labels];
  visits.forEach((v, i) => {
    const last = i === visits.length - 1;
    const row = new Int32Array(v.length + (last ? 1 : 0));
    for (let j = 0; j < v.length; j++) {
      if (v[j] < 0 || v[j] >= C) throw new Error(`Record ${r.id} has code id ${v[j]} outside 0..${C - 1}`);
      row[j] = v[j];
    }
    if (last) row[v.length] = end; // the end token lives inside the last real visit row
    rows.push(row);
  });
  return rows;
}

/** A batch from records' rows (each record: rows 0..n-1 as token ids); every pair t -> t+1 is a target. */
export function batchFromRows(records: Int32Array[][], c: HaloConfig): HaloBatch {
  const B = records.length;
  if (B === 0) throw new Error("Cannot build a HALO batch from zero records");
  let T = 0;
  let nnz = 0;
  let N = 0;
  for (const rows of records) {
    if (rows.length < 2 || rows.length > c.nCtx) {
      throw new Error(`A record has ${rows.length} rows; expected 2..nCtx (${c.nCtx})`);
    }
    T = Math.max(T, rows.length);
    N += rows.length - 1;
    for (const row of rows) nnz += row.length;
  }
  const pad = c.nVocab - 1;
  for (const rows of records) nnz += T - rows.length; // one pad token per padding row
  const rowIdx = new Int32Array(nnz);
  const rowOff = new Int32Array(B * T + 1);
  const src = new Int32Array(N);
  let k = 0;
  let n = 0;
  records.forEach((rows, b) => {
    for (let t = 0; t < T; t++) {
      rowOff[b * T + t] = k;
      if (t < rows.length) {
        rowIdx.set(rows[t], k);
        k += rows[t].length;
        if (t < rows.length - 1) src[n++] = b * T + t;
      } else {
        rowIdx[k++] = pad;
      }
    }
  });
  rowOff[B * T] = k;
  return { B, T, rowIdx, rowOff, N, src };
}

/** The batch the training loop feeds to HaloModel.forward. */
export function makeBatch(records: EncodedRecord[], config: HaloConfig): HaloBatch {
  return batchFromRows(
    records.map((r) => recordRows(r, config)),
    config,
  );
}
