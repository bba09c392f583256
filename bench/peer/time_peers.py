"""Time one peer synthesizer at one batch size; prints one JSON line. Runs in the peer venv (.peer-venv).

Protocol (``VOICE.md``): 48 kHz, 2 s, control rate 480 Hz; torchsynth timed as ``randomize()`` +
``output()``, SynthAX as its jitted ``apply``; warm-up first, every run synchronized, median of repeats.
Timing and memory as in ``bench/benchlib.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import measure, tune_allocator  # noqa: E402


def time_torchsynth(batch: int, repeats: int, sample_rate: int, duration: float, control_rate: int,
                    device: str = "cpu"):
    import torch
    from torchsynth.config import SynthConfig
    from torchsynth.synth import Voice

    voice = Voice(SynthConfig(batch_size=batch, reproducible=False, sample_rate=sample_rate,
                              buffer_size_seconds=duration, control_rate=control_rate)).to(device)

    def run():
        with torch.no_grad():
            voice.randomize()
            out = voice.output()
        if device.startswith("cuda"):
            torch.cuda.synchronize()  # torch on CPU is synchronous
        return out

    where = f"{torch.cuda.get_device_name()}" if device.startswith("cuda") else f"{torch.get_num_threads()} threads"
    result = measure(run, repeats)
    if device.startswith("cuda"):
        result["device_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result, f"torch {torch.__version__}, {where}"


def time_synthax(batch: int, repeats: int, sample_rate: int, duration: float, control_rate: int, device: str = "cpu"):
    import jax
    from synthax.config import SynthConfig
    from synthax.synth import Voice

    voice = Voice(config=SynthConfig(batch_size=batch, sample_rate=sample_rate, buffer_size_seconds=duration,
                                     control_rate=control_rate))
    params = voice.init(jax.random.PRNGKey(0))
    apply = jax.jit(voice.apply)
    return measure(lambda: apply(params).block_until_ready(), repeats), f"jax {jax.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["torchsynth", "synthax"], required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--control-rate", type=int, default=480)
    parser.add_argument("--no-tune", action="store_true", help="leave the allocator as it is")
    parser.add_argument("--device", default="cpu", help="torch device for torchsynth (cpu, cuda)")
    args = parser.parse_args()
    tuned = tune_allocator() if not args.no_tune else False
    timer = time_torchsynth if args.engine == "torchsynth" else time_synthax
    result, version = timer(args.batch, args.repeats, args.sample_rate, args.duration, args.control_rate,
                            args.device)
    print(json.dumps({"engine": args.engine, "batch": args.batch, "version": version, "allocator_tuned": tuned,
                      **result}))


if __name__ == "__main__":
    main()
