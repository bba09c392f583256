"""Datasets at scale (``studio.data``, ``python -m studio dataset``): the same bytes on any engine and core count,
resume after a kill, the formats read by pyarrow, ``datasets`` and ``webdataset``, doppelgänger groups consistent
with δ and locks, and bad specs refused before any work. Tiny datasets: 16 kHz, 0.25 s sounds, chunks of 8."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main
from studio.data import DatasetSpec, batch, make_dataset, open_dataset
from studio.data import samples as data_samples
from studio.data.engines import CRASH_TEST_ENV, start_ray
from studio.data.manifest import MANIFEST_FILE
from studio.errors import StudioError

ROOT = Path(__file__).resolve().parent.parent
TINY = {"sample_rate": 16_000, "duration": 0.25, "chunk": 8}
ALL_FIELDS = ("theta", "settings", "audio", "embedding", "logmel")


def tiny(**options) -> DatasetSpec:
    return DatasetSpec(**{"kind": "random", "count": 16, "shard_size": 8, "seed": 3, **TINY, **options})


def files(folder: Path) -> dict[str, bytes]:
    """Every shard file's bytes, by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*"))}


def studio(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300, **kwargs)


# ----------------------------------------------------------------------------------------------
# Determinism: threads, runs, engines
# ----------------------------------------------------------------------------------------------
def test_one_or_two_threads_write_the_same_bytes_and_the_manifest_hashes_them(tmp_path):
    spec = tiny(fields=ALL_FIELDS)
    one = make_dataset(spec, tmp_path / "one", threads=1, progress=False)
    make_dataset(spec, tmp_path / "two", threads=2, progress=False)
    assert one.shards_made == 2 and one.samples_made == 16
    a, b = files(tmp_path / "one"), files(tmp_path / "two")
    assert list(a) == ["shard-000000.parquet", "shard-000001.parquet"] and a == b
    manifest = json.loads((tmp_path / "one" / MANIFEST_FILE).read_text())
    assert manifest["shards_done"] == 2 and manifest["samples_done"] == 16
    for record in manifest["shards"]:
        assert record["sha256"] == hashlib.sha256(a[record["file"]]).hexdigest()
    # a second run finds everything done and writes nothing
    again = make_dataset(spec, tmp_path / "one", progress=False)
    assert again.shards_made == 0 and again.shards_skipped == 2 and files(tmp_path / "one") == a


def test_a_sample_depends_on_its_index_only_not_on_the_shard_size(tmp_path):
    small = batch(tiny(shard_size=4, fields=("theta", "settings", "audio")), 3)  # samples 12–15
    large = batch(tiny(shard_size=16, fields=("theta", "settings", "audio")), 0)
    for name, column in small.items():
        assert np.array_equal(column, large[name][12:]), name
    assert len({row.tobytes() for row in large["theta"]}) == 16 and len(set(large["noise_seed"])) == 16


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A Ray started in the test with 2 CPUs whose first worker to make shard 1 dies (Ray must retry it)."""
    ray = pytest.importorskip("ray")
    marker = tmp_path_factory.mktemp("ray") / "shard-1-worker-killed"
    os.environ[CRASH_TEST_ENV] = f"1:{marker}"  # the workers inherit it
    try:
        start_ray(num_cpus=2)  # ray.init with the studio's runtime environment (its package for the workers)
        yield marker
    finally:
        ray.shutdown()
        os.environ.pop(CRASH_TEST_ENV, None)


def test_local_and_ray_write_the_same_bytes_even_when_a_worker_dies(tmp_path, ray_cluster):
    spec = tiny(count=24, format="webdataset", fields=ALL_FIELDS)
    local = make_dataset(spec, tmp_path / "local", progress=False)
    remote = make_dataset(spec, tmp_path / "ray", engine="ray", progress=False)
    assert ray_cluster.exists(), "the crash hook never ran: shard 1 was not made by a Ray worker"
    assert local.shards_made == remote.shards_made == 3
    assert files(tmp_path / "local") == files(tmp_path / "ray")
    assert (tmp_path / "local" / MANIFEST_FILE).read_bytes() == (tmp_path / "ray" / MANIFEST_FILE).read_bytes()


# ----------------------------------------------------------------------------------------------
# Resume
# ----------------------------------------------------------------------------------------------
def test_a_run_killed_mid_way_resumes_with_finished_shards_intact_and_the_same_bytes(tmp_path):
    out = tmp_path / "killed"
    args = [str(out), "--kind", "doppelgangers", "--count", "240", "--shard-size", "4", "--seed", "7",
            "--format", "parquet", "--fields", "theta,settings,audio,embedding", "--variants", "3",
            "--sample-rate", "48000", "--duration", "1", "--chunk", "4", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    process = subprocess.Popen([sys.executable, "-m", "studio", "dataset", *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    manifest = out / MANIFEST_FILE
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            done = json.loads(manifest.read_text())["shards_done"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 2:
            break
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    records = json.loads(manifest.read_text())["shards"]
    assert 2 <= len(records) < 60, "the run was not stopped mid-way"
    kept = {}
    for record in records:  # every finished shard is whole
        data = (out / record["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == record["sha256"] and len(data) == record["bytes"]
        kept[record["file"]] = data

    rerun = studio("dataset", *args)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming: {len(records)} of 60 shards are done" in rerun.stdout
    resumed = files(out)
    assert len(resumed) == 60 and all(resumed[name] == data for name, data in kept.items())
    assert not list(out.glob(".*.tmp"))
    spec = DatasetSpec(kind="doppelgangers", count=240, shard_size=4, seed=7, fields=("theta", "settings", "audio",
                                                                                     "embedding"), variants=3,
                       duration=1.0, chunk=4)
    make_dataset(spec, tmp_path / "whole", progress=False)
    assert files(tmp_path / "whole") == resumed


def test_a_changed_or_missing_shard_is_made_again(tmp_path):
    spec = tiny(fields=("theta", "audio"))
    make_dataset(spec, tmp_path, progress=False)
    good = files(tmp_path)
    (tmp_path / "shard-000001.parquet").write_bytes(b"not a shard")
    (tmp_path / "shard-000000.parquet").unlink()
    notes = []
    summary = make_dataset(spec, tmp_path, progress=False, echo=notes.append)
    assert summary.shards_made == 2 and files(tmp_path) == good
    assert sum("does not match its hash" in n for n in notes) == 2


# ----------------------------------------------------------------------------------------------
# Formats and readers
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parquet_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parquet")
    make_dataset(tiny(fields=ALL_FIELDS), folder, progress=False)
    return folder


def test_parquet_shards_load_with_pyarrow_and_datasets(parquet_dataset, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    table = pq.read_table(parquet_dataset / "shard-000000.parquet")
    assert table.num_rows == 8 and table.column_names == ["index", "theta", "sample_rate", "duration", "control_rate",
                                                          "noise_seed", "audio", "embedding", "logmel"]
    assert json.loads(table.schema.metadata[b"studio.dataset.spec"])["kind"] == "random"
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_files=sorted(str(p) for p in parquet_dataset.glob("*.parquet")),
                                   split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == 16
    reader = open_dataset(parquet_dataset)
    row = loaded[9]
    assert row["index"] == 9 and np.array_equal(np.asarray(row["theta"], np.float32), reader[9]["theta"])
    assert np.array_equal(np.asarray(row["embedding"], np.float32), reader[9]["embedding"])
    import soundfile

    audio, rate = soundfile.read(__import__("io").BytesIO(row["audio"]), dtype="int16")
    assert rate == 16_000 and np.array_equal(audio, reader[9]["audio"])


def test_tar_shards_load_with_webdataset_and_the_reader(tmp_path):
    wds = pytest.importorskip("webdataset")
    spec = tiny(format="webdataset", audio_format="float32", fields=("theta", "settings", "audio"))
    make_dataset(spec, tmp_path, progress=False)
    shards = sorted(str(p) for p in tmp_path.glob("*.tar"))
    read = list(wds.WebDataset(shards, shardshuffle=False).decode())
    assert [s["__key__"] for s in read] == [f"{i:012d}" for i in range(16)]
    reader = open_dataset(tmp_path)
    for i, sample in enumerate(read):
        assert np.array_equal(sample["theta.npy"], reader[i]["theta"])
        assert np.array_equal(sample["audio.npy"], reader[i]["audio"]) and sample["audio.npy"].dtype == np.float32
        assert sample["json"]["noise_seed"] == reader[i]["noise_seed"] and sample["json"]["sample_rate"] == 16_000
    import tarfile

    with tarfile.open(shards[0]) as tar:  # nothing of when or by whom it was written
        assert {(m.mtime, m.uname, m.mode) for m in tar.getmembers()} == {(0, "studio", 0o444)}


def test_reader_batches_torch_and_jax_and_the_on_the_fly_batch_agree(parquet_dataset):
    reader = open_dataset(parquet_dataset)
    assert len(reader) == 16 and reader.shards == [0, 1]
    batches = list(reader.batches(5))
    assert [len(b["index"]) for b in batches] == [5, 5, 5, 1]
    assert np.array_equal(np.concatenate([b["index"] for b in batches]), np.arange(16))
    assert batches[0]["logmel"].shape == (5, 1 + 4000 // 128, 128) and batches[0]["audio"].dtype == np.int16
    on_the_fly = batch(parquet_dataset, 1)
    stored = reader.shard(1)
    assert list(on_the_fly) == list(stored)
    for name in stored:
        assert np.array_equal(on_the_fly[name], stored[name]), name
    assert all(np.array_equal(x, y) for x, y in zip(batch(parquet_dataset, 1).values(), on_the_fly.values()))
    import pickle

    copy = pickle.loads(pickle.dumps(reader))  # what DataLoader workers started by spawn receive
    assert all(np.array_equal(copy[11][k], reader[11][k]) for k in stored)
    import jax.numpy as jnp

    assert jnp.asarray(batches[1]["embedding"]).shape == (5, 259)
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(reader, batch_size=4, shuffle=False)
    first = next(iter(loader))
    assert first["theta"].shape == (4, 78) and first["theta"].dtype == torch.float32
    assert torch.equal(first["audio"], torch.from_numpy(np.stack([reader[i]["audio"] for i in range(4)])))


def test_an_unfinished_dataset_is_read_only_when_asked(tmp_path):
    make_dataset(tiny(fields=("theta",)), tmp_path, progress=False)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["shards"] = manifest["shards"][:1]
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(StudioError, match="not finished: 1 of 2 shards are missing"):
        open_dataset(tmp_path)
    assert len(open_dataset(tmp_path, partial=True)) == 8


# ----------------------------------------------------------------------------------------------
# Kinds
# ----------------------------------------------------------------------------------------------
def test_doppelganger_groups_follow_delta_and_locks():
    from studio.explore import doppelganger_noise, doppelgangers, lock_mask

    spec = DatasetSpec(kind="doppelgangers", count=3 * 9, shard_size=5, seed=11, deltas=(0.05, 0.4), variants=4,
                       locks=("pitch", "adsr_1"), fields=("theta", "settings"), chunk=8).validated()
    rows = data_samples.sample_rows(spec, np.arange(spec.count))
    mask = lock_mask(["pitch", "adsr_1"])
    gaps = {0.05: [], 0.4: []}
    for group in range(3):
        members = np.flatnonzero(rows["group"] == group)
        assert list(rows["member"][members]) == list(range(9)) and rows["delta"][members[0]] == 0
        anchor = rows["theta"][members[0]]
        assert len(set(rows["noise_seed"][members])) == 1  # a group differs in θ only
        for d, delta in enumerate(spec.deltas):
            seed = int(data_samples.variant_seed(spec, [group], d)[0])
            variants = rows["theta"][members[1 + 4 * d:1 + 4 * (d + 1)]]
            assert np.all(rows["delta"][members[1 + 4 * d:1 + 4 * (d + 1)]] == np.float32(delta))
            assert np.array_equal(variants, doppelgangers(anchor, delta, 4, seed, ["pitch", "adsr_1"]))
            assert np.array_equal(variants[:, mask], np.broadcast_to(anchor[mask], variants[:, mask].shape))
            step = np.abs(variants - anchor)
            bound = np.float32(delta) * np.abs(doppelganger_noise(seed, 4)) + 1e-6
            assert np.all(step <= bound)  # clip(θ + δz) never moves further than δ|z|
            gaps[delta].append(step[:, ~mask].mean())
    assert np.mean(gaps[0.4]) > 4 * np.mean(gaps[0.05])


def test_doppelgangers_around_presets_use_them_as_anchors():
    from studio.presets import factory_preset

    spec = DatasetSpec(kind="doppelgangers", count=10, shard_size=10, around=("bass", "pad"), variants=2,
                       fields=("theta",))
    resolved, sources = data_samples.resolve(spec)
    rows = data_samples.sample_rows(resolved, np.arange(10), sources)
    assert np.array_equal(rows["theta"][0], factory_preset("bass").theta)
    assert np.array_equal(rows["theta"][3], factory_preset("pad").theta)
    assert np.array_equal(rows["theta"][6], factory_preset("bass").theta)


def test_sweeps_are_the_ranking_tests_and_presets_render_a_folder():
    from studio.explore.sweeps import ATTRIBUTE_NAMES, attribute_named, sweep
    from studio.presets import FACTORY_DIR, load_preset

    spec = DatasetSpec(kind="sweeps", count=60, shard_size=30, seed=4, attributes=("attack", "pitch"),
                       fields=("theta",)).validated()
    rows = data_samples.sample_rows(spec, np.arange(60))
    for group in range(3):
        name = ("attack", "pitch")[group % 2]
        theta, values = sweep(attribute_named(name), np.random.default_rng([4, data_samples.KIND_TAGS["sweeps"],
                                                                            group]))
        assert np.array_equal(rows["theta"][20 * group:20 * group + 20], theta)
        assert list(rows["attribute"][20 * group:20 * group + 20]) == [name] * 20
        assert np.array_equal(rows["value"][20 * group:20 * group + 20], values.astype(np.float32))
    assert "attack" in ATTRIBUTE_NAMES

    presets, sources = data_samples.resolve(DatasetSpec(kind="presets", presets=str(FACTORY_DIR), fields=("theta",)))
    files_ = sorted(FACTORY_DIR.glob("*.yaml"))
    assert presets.count == len(files_) and presets.sources_sha256 == sources.sha256
    rows = data_samples.sample_rows(presets, np.arange(presets.count), sources)
    for i, path in enumerate(files_):
        preset = load_preset(path)
        assert rows["preset"][i] == path.name and np.array_equal(rows["theta"][i], preset.theta)
        assert rows["noise_seed"][i] == preset.settings.noise_seed


def test_the_clap_field_holds_clap_audio_embeddings(tmp_path):
    pytest.importorskip("transformers")
    from test_scoring import _tiny_clap

    model = _tiny_clap(tmp_path)
    spec = tiny(count=4, shard_size=4, fields=("theta", "clap"), clap_model=str(model))
    first, second = batch(spec, 0), batch(spec, 0)
    assert first["clap"].shape == (4, 16) and first["clap"].dtype == np.float32
    assert np.allclose(np.linalg.norm(first["clap"], axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first["clap"], second["clap"])


# ----------------------------------------------------------------------------------------------
# The command line: contract and refusals before any work
# ----------------------------------------------------------------------------------------------
def test_cli_contract(tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["dataset", str(out), "--kind", "random", "--count", "12", "--shard-size", "5", "--seed", "2",
                 "--format", "webdataset", "--fields", "theta,audio,embedding", "--engine", "local",
                 "--sample-rate", "16000", "--duration", "0.25", "--chunk", "8", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "12 random samples in 3 shards of 5 (webdataset: theta, audio (flac), embedding)" in printed
    assert "wrote 3 shards (12 samples" in printed and "samples/s" in printed
    assert sorted(p.name for p in out.iterdir()) == [".lock", "manifest.json", "shard-000000.tar", "shard-000001.tar",
                                                     "shard-000002.tar", "spec.json"]
    spec = json.loads((out / "spec.json").read_text())
    assert (spec["kind"], spec["count"], spec["shard_size"], spec["seed"], spec["format"], spec["fields"]) == (
        "random", 12, 5, 2, "webdataset", ["theta", "audio", "embedding"])
    assert "studio" in spec["made_with"] and "jax" in spec["made_with"]
    help_text = studio("dataset", "--help").stdout
    for flag in ("--kind", "{random,doppelgangers,sweeps,presets}", "--count", "--shard-size", "--seed",
                 "{parquet,webdataset}", "--fields", "{local,ray}", "--address"):
        assert flag in help_text


def cli(args: list[str]) -> int:
    """``main`` as the shell runs it: argparse's usage errors exit (status 2), the command's errors return 1."""
    try:
        return main(args)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("args, status, message", [
    (["--kind", "noise", "--count", "4"], 2, "invalid choice: 'noise'"),
    (["--kind", "random", "--count", "-4"], 2, "count must be a whole number from 1"),
    (["--kind", "random", "--count", "4", "--shard-size", "0"], 2, "shard size must be a whole number from 1"),
    (["--kind", "random", "--count", "4", "--fields", "theta,smell"], 1, "unknown field 'smell'"),
    (["--kind", "random"], 1, "count (the number of samples) is required"),
    (["--kind", "random", "--count", "4", "--deltas", "0.5"], 1, "--deltas applies to --kind doppelgangers only"),
    (["--kind", "doppelgangers", "--count", "4", "--lock", "pitch", "nose"], 1, "--lock: unknown lock 'nose'"),
    (["--kind", "sweeps", "--count", "4", "--attributes", "attack,wobble"], 1, "unknown attribute 'wobble'"),
    (["--kind", "presets"], 1, "--kind presets needs --presets DIR"),
    (["--kind", "presets", "--presets", "no/such/folder"], 1, "--presets no/such/folder: no such folder"),
    (["--kind", "random", "--count", "4", "--spread", "0.3"], 1, "--spread needs --around"),
    (["--kind", "random", "--count", "4", "--duration", "0.01"], 2, "duration must be a finite number from 0.05"),
    (["--kind", "random", "--count", "4", "--address", "auto"], 1, "--address applies to --engine ray only"),
    (["--kind", "random", "--count", "4", "--around", "no-such-preset"], 1, "no preset named 'no-such-preset'"),
])
def test_bad_specs_fail_with_a_clear_message_before_any_work(tmp_path, capsys, args, status, message):
    out = tmp_path / "never"
    assert cli(["dataset", str(out), *args, "--no-progress"]) == status
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()


def test_a_folder_holding_another_dataset_or_other_files_or_unwritable_is_refused(tmp_path, capsys):
    base = ["--kind", "random", "--count", "4", "--shard-size", "4", "--fields", "theta", "--no-progress"]
    first = tmp_path / "first"
    assert main(["dataset", str(first), *base, "--seed", "1"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    assert main(["dataset", str(first), *base, "--seed", "2"]) == 1
    err = capsys.readouterr().err
    assert "holds another dataset: its spec.json differs in seed: 1 there, 2 here" in err
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["dataset", str(other), *base]) == 1
    assert "is not empty (notes.txt) and holds no dataset" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]

    blocker = tmp_path / "a file"
    blocker.write_text("")
    assert main(["dataset", str(blocker / "ds"), *base]) == 1
    assert "cannot write into" in capsys.readouterr().err
    assert main(["dataset", str(blocker), *base]) == 1
    assert "it is a file, not a folder" in capsys.readouterr().err

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:  # root writes anywhere
        locked.chmod(0o500)
        assert main(["dataset", str(locked / "ds"), *base]) == 1
        assert "cannot write into" in capsys.readouterr().err
        locked.chmod(0o700)


def test_the_clap_field_without_weights_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty = tmp_path / "no weights"
    empty.mkdir()
    monkeypatch.setenv("SYNTH_STUDIO_CLAP", str(empty))
    code = main(["dataset", str(tmp_path / "ds"), "--kind", "random", "--count", "4", "--fields", "theta,clap",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "the clap field needs CLAP weights" in err and "SYNTH_STUDIO_CLAP" in err
    assert not (tmp_path / "ds").exists()


def test_spec_round_trips_through_json():
    spec = DatasetSpec(kind="doppelgangers", count=9, deltas=(0.1, 0.25), locks=("pitch",), variants=4).validated()
    assert DatasetSpec.from_dict(json.loads(spec.to_json({"studio": "x"}))) == spec
    assert spec.group_size == 9 and spec.shard_count == 1
    assert DatasetSpec(kind="random", count=10, fields=("audio", "theta")).validated().fields == ("theta", "audio")
