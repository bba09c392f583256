"""Output paths that are not plain files: the CLI writes through a FIFO or a device and keeps it what it was,
replaces the file a symbolic link points to (the link stays), and refuses a folder with a message — it never swaps
a special file for a regular one (``mkfifo f.wav; python -m studio render bass -o f.wav`` used to leave a file)."""
from __future__ import annotations

import io
import os
import stat
import threading

import pytest
import soundfile as sf

from studio.cli import main


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "f.wav"
    os.mkfifo(fifo)
    received = {}

    def reader():
        with open(fifo, "rb") as f:
            received["bytes"] = f.read()

    thread = threading.Thread(target=reader)
    thread.start()
    assert main(["render", "bass", "-o", str(fifo)]) == 0
    thread.join(timeout=60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO
    audio, rate = sf.read(io.BytesIO(received["bytes"]))
    assert rate == 48_000 and audio.shape == (96_000,)  # a whole WAV came through the pipe
    assert [p.name for p in tmp_path.iterdir()] == ["f.wav"]  # no temporary left behind


def test_a_symlink_stays_a_link_and_its_target_gets_the_sound(tmp_path):
    target = tmp_path / "real.wav"
    target.write_bytes(b"old")
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    assert main(["render", "pluck", "-o", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target
    audio, rate = sf.read(target)
    assert rate == 48_000 and audio.size > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_written_through_not_replaced(tmp_path):
    null = tmp_path / "null"  # a twin of /dev/null, so a regression cannot replace the machine's own
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert main(["render", "bass", "-o", str(null)]) == 0
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_folder_is_refused_with_a_message(tmp_path, capsys):
    folder = tmp_path / "out.wav"
    folder.mkdir()
    assert main(["render", "bass", "-o", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "folder" in err and err.count("\n") == 1
    assert folder.is_dir() and not any(folder.iterdir())
