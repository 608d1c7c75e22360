// Starts the head's output biases at each token's log-odds in the training rows, so a fresh model
// predicts the marginal frequencies from step 0 (the independent-Bernoulli baseline's level) and its
// first steps learn structure rather than sparsity: with Adam moving each weight about lr per step,
// walking every bias from 0 to about -6 by itself takes thousands of steps at the paper's lr.
// Each model sets its own (Generator.initOutputBias; the log-odds are src/model/bernoulli.ts tokenLogOdds).
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";

/** Sets the model's output biases from `train`'s scored rows (label row + kept visits). */
export function initOutputBias(model: Generator, train: readonly EncodedRecord[]): void {
  model.initOutputBias(train);
}
