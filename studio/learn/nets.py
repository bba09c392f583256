"""The learned models' one network shape: a standardized MLP (flax.linen), its forward pass and its optimizer.

A :class:`Network` is plain data (hashable architecture + numpy parameters + standardization statistics), so a
checkpoint is that data written out and read back (:mod:`.checkpoint`), and the forward pass is one compiled
function per architecture: ``y = head(MLP((x − in_mean) / in_std)) · out_std + out_mean``, where the head is the
identity (``output="linear"``) or a sigmoid (``output="sigmoid"``: values in (0, 1), such as θ).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


class MLP(nn.Module):
    """Dense → LayerNorm → GELU for each hidden width, then a dense layer of ``out`` units."""

    hidden: tuple[int, ...]
    out: int

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.gelu(nn.LayerNorm()(nn.Dense(width)(x)))
        return nn.Dense(self.out)(x)


@dataclass(frozen=True)
class Architecture:
    """What a network is: input and output sizes, hidden widths, output head (``linear`` or ``sigmoid``)."""

    in_dim: int
    out_dim: int
    hidden: tuple[int, ...]
    output: str = "linear"

    def as_dict(self) -> dict:
        return {"in_dim": self.in_dim, "out_dim": self.out_dim, "hidden": list(self.hidden), "output": self.output}

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        return cls(int(d["in_dim"]), int(d["out_dim"]), tuple(int(w) for w in d["hidden"]), str(d["output"]))


@dataclass(frozen=True)
class Network:
    """A trained (or initialized) network: architecture, flax parameters (a nested dict of arrays) and the
    standardization ``stats`` (``in_mean``, ``in_std`` ``[in_dim]``; ``out_mean``, ``out_std`` ``[out_dim]``)."""

    architecture: Architecture
    params: Any = field(repr=False)
    stats: dict = field(repr=False)

    def __call__(self, x):
        """Forward pass: ``[B, in_dim]`` → ``[B, out_dim]`` (a JAX array)."""
        return forward_program(self.architecture)(self.params, self.stats, jnp.asarray(x, jnp.float32))

    @property
    def parameter_count(self) -> int:
        return int(sum(np.size(x) for x in jax.tree.leaves(self.params)))

    def replace(self, **changes) -> Network:
        return dataclasses.replace(self, **changes)


def standardization(x: np.ndarray, floor: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (mean, std) of ``x [N, D]`` (float32); a std under ``floor`` × the largest column's counts as
    that (constant columns, such as a floored band, would otherwise divide by zero)."""
    x = np.asarray(x, np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.maximum(std, floor * max(float(std.max()), 1e-12))
    return mean.astype(np.float32), std.astype(np.float32)


def apply_network(architecture: Architecture, params, stats, x):
    """The traceable forward pass of :class:`Network` (see the module docstring)."""
    z = MLP(architecture.hidden, architecture.out_dim).apply({"params": params}, (x - stats["in_mean"])
                                                             / stats["in_std"])
    if architecture.output == "sigmoid":
        z = jax.nn.sigmoid(z)
    return z * stats["out_std"] + stats["out_mean"]


@lru_cache(maxsize=16)
def forward_program(architecture: Architecture):
    """The compiled forward pass for one architecture: ``(params, stats, x [B, in_dim]) → [B, out_dim]``."""
    return jax.jit(lambda params, stats, x: apply_network(architecture, params, stats, x))


def init_network(architecture: Architecture, stats: dict, seed: int) -> Network:
    """A freshly initialized network (flax's default initializers, from ``jax.random.key(seed)``)."""
    variables = MLP(architecture.hidden, architecture.out_dim).init(
        jax.random.key(seed), jnp.zeros((1, architecture.in_dim), jnp.float32))
    params = jax.tree.map(np.asarray, variables["params"])
    return Network(architecture, params, {k: np.asarray(v, np.float32) for k, v in stats.items()})


def optimizer(steps: int, learning_rate: float, warmup: int | None = None):
    """AdamW (weight decay 1e-4) with a linear warm-up then cosine decay to 1 % over ``steps``; gradients clipped
    to norm 1 (a few odd sounds must not blow up a step)."""
    warmup = max(1, min(steps // 20, 500)) if warmup is None else warmup
    schedule = optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup, max(steps, warmup + 1),
                                                  end_value=learning_rate * 0.01)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=1e-4))


def fit(network: Network, loss, arrays: dict, steps: int, batch: int, learning_rate: float, seed: int,
        progress=None, chunk: int = 50) -> tuple[Network, list[float]]:
    """Train ``network`` for ``steps`` AdamW steps (:func:`optimizer`) on minibatches drawn uniformly with
    replacement from ``arrays`` (``{name: [N, ...]}``; numpy PCG64 seeded ``seed`` picks the rows).

    loss: a traceable ``(params, stats, batch {name: [batch, ...]}, step) → scalar``. Steps run ``chunk`` at a
    time in one compiled scan. progress: ``(steps done, mean loss of the chunk)`` after each chunk. Returns the
    trained network and the mean loss of each chunk.
    """
    sizes = {len(v) for v in arrays.values()}
    if len(sizes) != 1 or steps < 1 or batch < 1:
        raise ValueError(f"arrays must share their first axis (got {sizes}); steps and batch must be ≥ 1")
    n = sizes.pop()
    device = {k: jnp.asarray(v) for k, v in arrays.items()}
    stats = {k: jnp.asarray(v) for k, v in network.stats.items()}
    tx = optimizer(steps, learning_rate)
    params = jax.tree.map(jnp.asarray, network.params)
    opt_state = tx.init(params)

    # the training arrays are arguments of the compiled chunk, not constants captured by it: captured, they were
    # copied into the program (2.7 GB for the shipped inverse model's inputs) and compiled into it for a minute
    def run_chunk(params, opt_state, rows, steps_index, data):
        def one_step(carry, xs):
            params, opt_state = carry
            rows, step = xs
            minibatch = {k: v[rows] for k, v in data.items()}
            value, grads = jax.value_and_grad(loss)(params, stats, minibatch, step)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), values = jax.lax.scan(one_step, (params, opt_state), (rows, steps_index))
        return params, opt_state, jnp.mean(values)

    run_chunk = jax.jit(run_chunk)

    rng = np.random.default_rng(seed)
    history, done = [], 0
    while done < steps:
        size = min(chunk, steps - done)
        rows = rng.integers(0, n, (size, batch))
        params, opt_state, value = run_chunk(params, opt_state, jnp.asarray(rows),
                                             jnp.arange(done, done + size, dtype=jnp.int32), device)
        done += size
        history.append(float(value))
        if progress is not None:
            progress(done, history[-1])
    return network.replace(params=jax.tree.map(np.asarray, params)), history


__all__ = ["Architecture", "MLP", "Network", "apply_network", "fit", "forward_program", "init_network", "optimizer",
           "standardization"]
