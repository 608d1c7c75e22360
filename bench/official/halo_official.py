"""Times the official PyTorch HALO (github.com/btheodorou99/HALO_Inpatient) on records exported by
bench/official/compare.ts, so both implementations run on the same data and machine in one run.

It imports model.py and config.py from a checkout whose path is given (nothing of it is copied here);
get_batch and sample_sequence below are the checkout's train_model.py / test_model.py functions, with
the module globals they read (config, the dataset) passed in, and no other change.
Prints one JSON line: training seconds per step (median, after one warm-up step), sampling seconds per
record, peak RSS.

  /usr/bin/python3 bench/official/halo_official.py --checkout DIR --data records.json
      [--preset small|paper] [--steps 5] [--sample 16] [--threads N]
Needs Debian's python3-torch (1.13) and python3-numpy.
"""

import argparse
import json
import math
import resource
import statistics
import sys
import time

import numpy as np
import torch

PRESETS = {"small": dict(n_embd=256, n_layer=4, n_head=4), "paper": dict(n_embd=768, n_layer=12, n_head=12)}


def get_batch(ehr, config):
    # train_model.py get_batch(loc, batch_size, mode), with the slice of the dataset passed in.
    batch_ehr = np.zeros((len(ehr), config.n_ctx, config.total_vocab_size))
    batch_mask = np.zeros((len(ehr), config.n_ctx, 1))
    for i, p in enumerate(ehr):
        visits = p["visits"]
        for j, v in enumerate(visits):
            batch_ehr[i, j + 2][v] = 1
            batch_mask[i, j + 2] = 1
        batch_ehr[i, 1, config.code_vocab_size : config.code_vocab_size + config.label_vocab_size] = np.array(p["labels"])
        batch_ehr[i, len(visits) + 1, config.code_vocab_size + config.label_vocab_size + 1] = 1
        batch_ehr[i, len(visits) + 2 :, config.code_vocab_size + config.label_vocab_size + 2] = 1
    batch_mask[:, 1] = 1
    batch_ehr[:, 0, config.code_vocab_size + config.label_vocab_size] = 1
    batch_mask = batch_mask[:, 1:, :]
    return batch_ehr, batch_mask


def sample_sequence(model, length, context, batch_size, config, device="cpu", sample=True):
    # test_model.py sample_sequence, with config passed in.
    empty = torch.zeros((1, 1, config.total_vocab_size), device=device, dtype=torch.float32).repeat(batch_size, 1, 1)
    context = torch.tensor(context, device=device, dtype=torch.float32).unsqueeze(0).repeat(batch_size, 1)
    prev = context.unsqueeze(1)
    with torch.no_grad():
        for _ in range(length - 1):
            prev = model.sample(torch.cat((prev, empty), dim=1), sample)
            if (
                torch.sum(torch.sum(prev[:, :, config.code_vocab_size + config.label_vocab_size + 1], dim=1).bool().int(), dim=0).item()
                == batch_size
            ):
                break
    return prev.cpu().detach().numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkout", required=True, help="a clone of github.com/btheodorou99/HALO_Inpatient")
    ap.add_argument("--data", required=True, help="records.json written by bench/official/compare.ts")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--sample", type=int, default=16, help="records to sample (0: none)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()

    sys.path.insert(0, args.checkout)
    try:
        from config import HALOConfig
        from model import HALOModel
    except ImportError as e:
        sys.exit(f"halo_official.py: cannot import model.py/config.py from {args.checkout} ({e})")

    with open(args.data) as f:
        data = json.load(f)
    C, L = data["codeVocabSize"], data["labelVocabSize"]
    records = data["records"]
    if len(records) < args.batch:
        sys.exit(f"halo_official.py: {args.data} holds {len(records)} records, fewer than one batch of {args.batch}")
    config = HALOConfig(
        total_vocab_size=C + L + 3,
        code_vocab_size=C,
        label_vocab_size=L,
        n_positions=data["nCtx"] + 8,
        n_ctx=data["nCtx"],
        batch_size=args.batch,
        **PRESETS[args.preset],
    )
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    model = HALOModel(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    times, cpu_times, losses = [], [], []
    for s in range(args.steps + 1):
        start = (s * args.batch) % (len(records) - args.batch + 1)
        t, c = time.perf_counter(), time.process_time()
        batch_ehr, batch_mask = get_batch(records[start : start + args.batch], config)
        batch_ehr = torch.tensor(batch_ehr, dtype=torch.float32)
        batch_mask = torch.tensor(batch_mask, dtype=torch.float32)
        model.train()
        optimizer.zero_grad()
        loss, _, _ = model(batch_ehr, position_ids=None, ehr_labels=batch_ehr, ehr_masks=batch_mask)
        loss.backward()
        optimizer.step()
        if s > 0:  # step 0 is a warm-up
            times.append(time.perf_counter() - t)
            cpu_times.append(time.process_time() - c)
            losses.append(loss.item())

    out = {
        "impl": "official",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": args.preset,
        "batch": args.batch,
        "stepSeconds": statistics.median(times),
        "stepCpuSeconds": statistics.median(cpu_times),
        "recordsPerSecond": args.batch / statistics.median(times),
        "losses": losses,
    }

    if args.sample > 0:
        # The output biases of bench/sample.ts, so both implementations draw records of the same shape
        # (~15 codes per visit, a visit ends the record with probability 0.1): sampling cost follows the shape.
        logit = lambda p: math.log(p / (1 - p))
        d = config.n_embd
        with torch.no_grad():
            b2 = model.ehr_head.auto2.bias
            for j in range(config.total_vocab_size):
                b2[d - 1 + j] = logit(15 / C) if j < C else logit(0.2) if j < C + L else -12.0
            b2[d - 1 + C + L + 1] = logit(0.1)
        model.eval()
        stoken = np.zeros(config.total_vocab_size)
        stoken[config.code_vocab_size + config.label_vocab_size] = 1
        t = time.perf_counter()
        ehr = sample_sequence(model, config.n_ctx, stoken, batch_size=args.sample, config=config, sample=True)
        seconds = time.perf_counter() - t
        codes = ehr[:, 2:, :C].sum()
        out.update(sampleRecords=args.sample, sampleSecondsPerRecord=seconds / args.sample, sampledCodes=int(codes))

    out["maxRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
