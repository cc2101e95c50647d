"""``webnnc cache push/pull`` and ``webnnc warm --push`` against a shared folder remote."""

from __future__ import annotations

from pathlib import Path

import pytest

from webnnc.cli import main


def test_warm_push_then_pull_by_name(tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    remote = f"file://{tmp_path / 'remote'}"
    ci, node = str(tmp_path / "ci"), str(tmp_path / "node")
    assert main(["--cache-dir", ci, "warm", "webnnc.compiler.workloads:w1_simple", "-j", "1",
                 "--push", "--remote", remote]) == 0
    out = capsys.readouterr().out
    assert "pushed" in out
    assert main(["--cache-dir", node, "cache", "pull", "w1_simple", "--remote", remote]) == 0
    assert "pulled w1_simple" in capsys.readouterr().out
    assert main(["--cache-dir", node, "cache", "ls"]) == 0
    assert "w1_simple" in capsys.readouterr().out
    assert main(["--cache-dir", node, "cache", "pull", "nothing-by-that-name", "--remote", remote]) == 1


def test_push_all_and_errors(tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    remote = f"file://{tmp_path / 'remote'}"
    ci = str(tmp_path / "ci")
    assert main(["--cache-dir", ci, "warm", "webnnc.compiler.workloads:w1_simple", "-j", "1"]) == 0
    assert main(["--cache-dir", ci, "cache", "push", "--all", "--remote", remote]) == 0
    assert "pushed 1 entries" in capsys.readouterr().out
    assert main(["--cache-dir", ci, "cache", "push", "--remote", remote]) == 1  # nothing named
    assert main(["--cache-dir", ci, "cache", "push", "missing", "--remote", remote]) == 1
    monkeypatch.delenv("WEBNNC_REMOTE_KEY")
    assert main(["--cache-dir", ci, "cache", "push", "--all", "--remote", remote]) == 1
    assert "trusted key" in capsys.readouterr().err


def test_push_of_several_names_records_each_name_for_its_own_entry(
    tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # `cache push a b` once recorded every NAME given for every entry pushed, so the last
    # entry's push pointed name `a` at entry b on the remote (validly signed)
    import json

    (tmp_path / "other.py").write_text(
        "def relu_model(b):\n    x = b.input('x', [1, 4], 'float32')\n    return {'y': b.relu(x)}\n"
    )
    remote_dir = tmp_path / "remote"
    remote = f"file://{remote_dir}"
    ci, node = str(tmp_path / "ci"), str(tmp_path / "node")
    assert main(["--cache-dir", ci, "compile", "webnnc.compiler.workloads:w1_simple", "--name", "a", "-q"]) == 0
    assert main(["--cache-dir", ci, "compile", f"{tmp_path / 'other.py'}:relu_model", "--name", "b", "-q"]) == 0
    capsys.readouterr()
    assert main(["--cache-dir", ci, "cache", "ls", "--json"]) == 0
    keys = {row["name"]: row["key"] for row in json.loads(capsys.readouterr().out)}
    assert main(["--cache-dir", ci, "cache", "push", "a", "b", "--remote", remote]) == 0
    for name in ("a", "b"):
        record = json.loads((remote_dir / "names" / "onnx-cpu" / name).read_text())
        assert record["key"] == keys[name], (name, record)
    # a fleet machine pulling by name gets the entry that name was compiled as
    assert main(["--cache-dir", node, "cache", "pull", "a", "--remote", remote]) == 0
    assert keys["a"][:16] in capsys.readouterr().out


@pytest.mark.parametrize("url", ["nosuchproto://x/y", "redis://:99999", "http://[::1", "redis://"])
def test_malformed_remote_url_is_one_line_naming_it(
    tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    # was: a "remote unavailable ... retrying in 30 s" warning, then "MISSING" per name, as if down
    ci = str(tmp_path / "ci")
    assert main(["--cache-dir", ci, "compile", "webnnc.compiler.workloads:w1_simple", "-q"]) == 0
    for command in (["pull", "w1_simple"], ["push", "w1_simple"]):
        capsys.readouterr()
        assert main(["--cache-dir", ci, "cache", *command, "--remote", url]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"remote cache URL {url!r}: expected s3://" in err, err
        assert "unavailable" not in err and "MISSING" not in err


def test_malformed_remote_url_never_fails_a_local_hit(
    tmp_path: Path, keyed_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.cache.helpers import fake_manifest
    from webnnc.cache.remote import open_tiered_store

    data = b"local artifact " * 100
    with open_tiered_store(tmp_path / "c", "nosuchproto://x/y") as store:
        manifest = fake_manifest(data, graph="g", name="g")
        assert store.put(manifest, data) is not None
        with caplog.at_level("WARNING"):
            assert store.get("0" * 64) is None  # a miss asks the remote: refused as misconfigured
            assert store.get("1" * 64) is None  # ... once: no retry, no second warning
            hit = store.get(manifest.key)  # a local hit never needs it
        assert hit is not None and hit.data == data
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "remote cache URL 'nosuchproto://x/y'" in warnings[0], warnings


def test_pull_from_a_missing_or_file_remote_or_into_a_read_only_cache_is_one_line(
    tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "remote-file"
    not_a_folder.write_text("not a folder")
    node = str(tmp_path / "node")
    for url, found in ((f"file://{tmp_path / 'nothing-here'}", "found nothing"), (str(not_a_folder), "found a file")):
        assert main(["--cache-dir", node, "cache", "pull", "w1_simple", "--remote", url]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"remote cache {url}: expected a folder, {found}" in err, err
    remote = tmp_path / "remote"
    remote.mkdir()
    # a cache that cannot be written (under a regular file): not "MISSING ... not on the remote"
    assert main(["--cache-dir", str(not_a_folder / "c"), "cache", "pull", "w1_simple", "--remote", str(remote)]) == 1
    captured = capsys.readouterr()
    assert "cannot pull into" in captured.err and "MISSING" not in captured.out, captured


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("WEBNNC_REMOTE_MODE", "xyz"),
        ("WEBNNC_REMOTE_TIMEOUT", "abc"),
        ("WEBNNC_REMOTE_TIMEOUT", "-1"),
        ("WEBNNC_REMOTE_TIMEOUT", "inf"),  # a request that may wait forever
        ("WEBNNC_REMOTE_LOCK_TTL", "0"),
    ],
)
def test_a_garbage_remote_setting_is_named(
    tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    var: str, value: str,
) -> None:
    # was "WEBNNC_REMOTE_TIMEOUT / WEBNNC_REMOTE_LOCK_TTL: not a number", or no variable named
    monkeypatch.setenv(var, value)
    assert main(["--cache-dir", str(tmp_path / "c"), "cache", "pull", "x", "--remote", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{var}: expected " in err and f"found {value!r}" in err, err


@pytest.mark.parametrize("name", ["..", "."])
def test_a_dot_model_name_is_one_object_on_a_folder_remote(
    tmp_path: Path, keyed_env: None, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # names/onnx-cpu/.. is names/ itself on a folder: the push failed (EBUSY), left a temp
    # file behind, and a pull by that name marked the remote down for 30 s
    remote_dir = tmp_path / "remote"
    ci, node = str(tmp_path / "ci"), str(tmp_path / "node")
    assert main(["--cache-dir", ci, "compile", "webnnc.compiler.workloads:w1_simple", "--name", name, "-q"]) == 0
    assert main(["--cache-dir", ci, "cache", "push", name, "--remote", str(remote_dir)]) == 0
    assert sorted(p.name for p in (remote_dir / "names" / "onnx-cpu").iterdir()) == [name.replace(".", "%2E")]
    capsys.readouterr()
    assert main(["--cache-dir", node, "cache", "pull", name, "--remote", str(remote_dir)]) == 0
    captured = capsys.readouterr()
    assert f"pulled {name} " in captured.out and "unavailable" not in captured.err, captured
