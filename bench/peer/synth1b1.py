"""Time torchsynth's synth1B1 iteration (``voice(batch_index)``: 128 reproducible 4 s, 44.1 kHz sounds with their
parameters) and print one JSON line. Runs in the peer environment (``.peer-venv``, ``bench/setup_peer_env.sh``);
``bench/dataset_throughput.py`` calls it for its torchsynth row.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import tune_allocator  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=4, help="timed batches after one warm-up batch")
    parser.add_argument("--first", type=int, default=312, help="first batch index (synth1B1-312-…)")
    args = parser.parse_args()
    tuned = tune_allocator()
    import torch
    from torchsynth.synth import Voice

    voice = Voice()  # synth1B1's configuration: batch 128, 44.1 kHz, 4 s, reproducible
    with torch.no_grad():
        voice(args.first)  # warm-up
        times = []
        for i in range(args.first + 1, args.first + 1 + args.batches):
            start = time.perf_counter()
            audio, params, _ = voice(i)
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    batch, samples = audio.shape
    print(json.dumps({"engine": "torchsynth synth1B1", "batch": int(batch), "samples_per_sound": int(samples),
                      "sample_rate": int(voice.sample_rate), "median_s": median, "sounds_per_s": batch / median,
                      "version": f"torch {torch.__version__}, {torch.get_num_threads()} threads",
                      "allocator_tuned": tuned}))


if __name__ == "__main__":
    main()
