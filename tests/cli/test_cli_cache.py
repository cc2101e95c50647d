"""``webnnc cache ...`` and ``webnnc warm``: output and exit codes (in-process, plus one real CLI run)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cache.helpers import FORMAT_VERSION, entry_path, fake_manifest, object_path
from tests.conftest import webnnc_cli
from webnnc.cache.store import ArtifactStore
from webnnc.cli import main

TINY_SOURCE = """
import numpy as np

def tiny(b):
    x = b.input("x", [2, 3], "float32")
    return {"y": b.add(x, b.constant(np.full([2, 3], 3.0, np.float32)))}

def other(b):
    x = b.input("x", [4], "float32")
    return {"y": b.mul(x, x)}

def broken(b):
    raise RuntimeError("this model cannot be built")
"""


def _cli(capsys: pytest.CaptureFixture[str], cache_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--cache-dir", str(cache_dir), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(cache_dir: Path) -> dict[str, str]:
    keys = {}
    with ArtifactStore(cache_dir) as store:
        for name, data in (("alpha", b"A" * 3000), ("beta", b"B" * 5000)):
            m = fake_manifest(data, graph=name, name=name)
            store.put(m, data)
            keys[name] = m.key
        store.get(keys["alpha"])
        store.get(keys["alpha"])
    return keys


def test_ls_lists_name_target_size_age_hits(capsys: pytest.CaptureFixture[str], cache_dir: Path, filled: dict[str, str]) -> None:
    code, out, _ = _cli(capsys, cache_dir, "cache", "ls")
    assert code == 0
    lines = out.splitlines()
    assert "2 entries" in lines[0] and str(cache_dir) in lines[0]
    assert lines[1].split()[:7] == ["NAME", "TARGET", "FORMAT", "SIZE", "AGE", "USED", "HITS"]
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert "onnx-cpu" in alpha and alpha.split()[-2] == "2" and filled["alpha"][:16] in alpha
    code, out, _ = _cli(capsys, cache_dir, "cache", "ls", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["alpha"]["hits"] == 2 and rows["beta"]["hits"] == 0 and rows["beta"]["size"] > 5000


def test_info_by_name_and_key_prefix(capsys: pytest.CaptureFixture[str], cache_dir: Path, filled: dict[str, str]) -> None:
    code, out, _ = _cli(capsys, cache_dir, "cache", "info", "beta")
    assert code == 0 and f"key        {filled['beta']}" in out and "library.onnxruntime" in out
    code, out, _ = _cli(capsys, cache_dir, "cache", "info", filled["alpha"][:10], "--json")
    assert code == 0 and json.loads(out)[0]["name"] == "alpha"
    code, _, err = _cli(capsys, cache_dir, "cache", "info", "nobody")
    assert code == 1 and "no entry with key or name 'nobody'" in err


def test_verify_reports_and_drops_bad_entries(capsys: pytest.CaptureFixture[str], cache_dir: Path, filled: dict[str, str]) -> None:
    code, out, _ = _cli(capsys, cache_dir, "cache", "verify")
    assert code == 0 and "2 good, 0 bad" in out
    sha = fake_manifest(b"B" * 5000).artifact_sha256
    object_path(cache_dir, sha).write_bytes(b"B" * 4999)
    code, out, _ = _cli(capsys, cache_dir, "cache", "verify")
    assert code == 1 and "1 good, 1 bad" in out and f"BAD  {filled['beta'][:16]}" in out
    assert not entry_path(cache_dir, filled["beta"]).exists()


def test_gc_and_clear(capsys: pytest.CaptureFixture[str], cache_dir: Path, filled: dict[str, str]) -> None:
    with ArtifactStore(cache_dir) as store:
        stale = fake_manifest(b"S" * 100, graph="stale", name="stale", format_version=FORMAT_VERSION - 1)
        store.put(stale, b"S" * 100)
        elsewhere = fake_manifest(b"E" * 100, graph="env", name="env", libraries={"onnxruntime": "1.0.0"})
        store.put(elsewhere, b"E" * 100)
    code, out, _ = _cli(capsys, cache_dir, "cache", "gc", "--dry-run")
    assert code == 0 and "would remove 2 unusable" in out and entry_path(cache_dir, stale.key).exists()
    code, out, _ = _cli(capsys, cache_dir, "cache", "gc", "--keep-other-versions")
    assert code == 0 and f"removed {stale.key[:16]}: compiler format version {FORMAT_VERSION - 1}" in out
    assert not entry_path(cache_dir, stale.key).exists() and entry_path(cache_dir, elsewhere.key).exists()
    code, out, _ = _cli(capsys, cache_dir, "cache", "gc")
    assert code == 0 and f"removed {elsewhere.key[:16]}: built with onnxruntime 1.0.0" in out
    assert not entry_path(cache_dir, elsewhere.key).exists()
    code, out, _ = _cli(capsys, cache_dir, "cache", "clear")
    assert code == 0 and "cleared 2 entries" in out
    assert list(ArtifactStore(cache_dir).keys()) == []


def test_export_import(capsys: pytest.CaptureFixture[str], cache_dir: Path, filled: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "b.webnnc"
    code, out, _ = _cli(capsys, cache_dir, "cache", "export", str(bundle), "alpha")
    assert code == 0 and "exported 1 entries" in out
    code, out, _ = _cli(capsys, tmp_path / "dest", "cache", "import", str(bundle))
    assert code == 0 and "imported 1 entries" in out and "alpha" in out
    bundle.write_bytes(bundle.read_bytes().replace(b"A" * 100, b"Z" * 100, 1))
    code, _, err = _cli(capsys, tmp_path / "dest2", "cache", "import", str(bundle))
    assert code == 1 and "rejected" in err
    code, _, err = _cli(capsys, cache_dir, "cache", "export", str(tmp_path / "x.webnnc"), "missing")
    assert code == 1 and "no entry named 'missing'" in err


def test_warm_compiles_skips_cached_and_reports_failures(
    capsys: pytest.CaptureFixture[str], cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "models.py").write_text(TINY_SOURCE)
    plan = tmp_path / "warm.toml"
    plan.write_text(
        'targets = ["onnx-cpu"]\n'
        '[[models]]\nsource = "models.py:tiny"\nname = "tiny"\n'
        '[[models]]\nsource = "models.py:broken"\n'
        '[[models]]\nsource = "models.py:other"\n'
    )
    code, out, err = _cli(capsys, cache_dir, "warm", str(plan), "-j", "1")
    assert code == 1, out
    assert "1 failed" in out and "2 compiled" in out
    assert "FAILED broken [onnx-cpu]: RuntimeError: this model cannot be built" in err
    assert "[3/3]" in out
    plan.write_text('{"models": ["models.py:tiny", "models.py:other"]}')
    json_plan = plan.with_suffix(".json")
    json_plan.write_text(plan.read_text())
    code, out, _ = _cli(capsys, cache_dir, "warm", str(json_plan), "-j", "1")
    assert code == 0 and "2 cached" in out


def test_warm_rejects_a_bad_plan(capsys: pytest.CaptureFixture[str], cache_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text('[[models]]\nsource = "m:f"\ncolour = "red"\n')
    code, _, err = _cli(capsys, cache_dir, "warm", str(plan))
    assert code == 1 and "unknown keys ['colour']" in err
    plan.write_text("models = [")
    code, _, err = _cli(capsys, cache_dir, "warm", str(plan))
    assert code == 1 and "not valid TOML" in err


def test_warm_in_parallel_worker_processes(cache_dir: Path, tmp_path: Path) -> None:
    """The real console script, two worker processes, two targets' worth of items."""
    (tmp_path / "models.py").write_text(TINY_SOURCE)
    plan = tmp_path / "warm.json"
    plan.write_text(json.dumps({"jobs": 2, "models": ["models.py:tiny", "models.py:other", "models.py:broken"]}))
    proc = subprocess.run(
        [*webnnc_cli(), "--cache-dir", str(cache_dir), "warm", str(plan)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "with 2 worker process(es)" in proc.stdout
    assert "2 compiled" in proc.stdout and "1 failed" in proc.stdout
    assert len(list(ArtifactStore(cache_dir).keys())) == 2


SLOW_SOURCE = """
import pathlib, time
import numpy as np

def slow(b):
    pathlib.Path(__file__).with_name("started-" + str(__import__("os").getpid())).touch()
    time.sleep(60)
    x = b.input("x", [2], "float32")
    return {"y": b.add(x, x)}
"""


def test_warm_interrupted_with_ctrl_c_exits_130_and_leaves_no_entry(cache_dir: Path, tmp_path: Path) -> None:
    import os
    import signal
    import time

    (tmp_path / "slowmod.py").write_text(SLOW_SOURCE)
    proc = subprocess.Popen(
        [*webnnc_cli(), "--cache-dir", str(cache_dir), "warm", "slowmod.py:slow", "slowmod.py:slow", "-j", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # as in a terminal: a test run started in the background (`cmd &` without job control)
        # inherits SIGINT ignored, and Python then installs no Ctrl-C handler at all
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("started-*")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted after 0/2 items" in err
    with ArtifactStore(cache_dir) as store:
        assert list(store.keys()) == []
        assert not any((cache_dir / "tmp").iterdir())


@pytest.mark.parametrize("command", [["cache", "ls"], ["cache", "verify"], ["cache", "gc"], ["cache", "info", "x"]])
def test_a_missing_cache_folder_is_named_not_created(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     command: list[str]) -> None:
    typo = tmp_path / "cahce"  # a typo must not become a new, empty cache that reports nothing wrong
    code, _, err = _cli(capsys, typo, *command)
    assert code == 1 and not typo.exists()
    assert f"no cache at {typo}: the folder does not exist" in err and err.count("\n") == 1, err


def test_import_creates_the_cache_folder(capsys: pytest.CaptureFixture[str], cache_dir: Path, filled: dict[str, str],
                                         tmp_path: Path) -> None:
    bundle = tmp_path / "all.webnnc"
    assert _cli(capsys, cache_dir, "cache", "export", str(bundle), "alpha")[0] == 0
    fresh = tmp_path / "fresh"
    code, out, err = _cli(capsys, fresh, "cache", "import", str(bundle))
    assert code == 0 and fresh.is_dir(), err
    assert _cli(capsys, fresh, "cache", "ls")[0] == 0
