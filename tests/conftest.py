"""Test-suite set-up: the same process tuning as the app and the CLI (``studio.synth.cpu.tune_cpu``), applied
before any test runs a computation, so tests exercise the configuration users run."""
from studio.synth.cpu import tune_cpu

tune_cpu()
