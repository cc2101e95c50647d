"""Deployment bundles: one file carrying compiled artifacts and their manifests.

A build machine runs ``webnnc cache export models.webnnc NAME...``; a machine that installs
only the runtime runs ``webnnc cache import models.webnnc`` (or ``python -m webnnc cache
import``), or loads straight from the file with ``webnnc.runtime.load(name,
bundle="models.webnnc")``. Stdlib only (plus the store, for export and import).

Format: an uncompressed POSIX tar (gzip is accepted on reading) holding exactly

    webnnc-bundle.json          {"bundle_version": 1, "entries": [{"key", "sha256", "names"}, ...]}
    entries/<key>.json          each entry's manifest
    objects/<sha256>            each artifact, named by its own sha256
    objects/<sha256>/<file>     each file of a multi-file artifact (``model.onnx``, ``weights``)

# NOTE: a bundle is untrusted input. It is never extracted to disk by tarfile (no paths from
# the archive are used), members are read only as bytes, any member that is not a regular
# file with one of the names above rejects the whole bundle, and every manifest is checked
# against its key (the key parts must hash to it) and every artifact against the manifest's
# size and sha256 before anything is imported or loaded. Nothing is unpickled or executed:
# manifests are JSON, artifacts are bytes handed to ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.manifest import Manifest

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = ["BUNDLE_VERSION", "BundleError", "BundleReader", "BundleWriter", "export_bundle", "import_bundle"]

BUNDLE_VERSION = 1
_INDEX = "webnnc-bundle.json"
_MEMBER = re.compile(r"(entries/([0-9a-f]{64})\.json|objects/([0-9a-f]{64})(/(model\.onnx|weights))?)")
_CHUNK = 1 << 20


class BundleError(CacheError):
    """A bundle is malformed, tampered with, or does not hold what was asked for."""


def _check(manifest: Manifest, key: str) -> None:
    from webnnc.cache.key import key_digest

    if manifest.key != key or key_digest(manifest.key_parts) != key:
        raise CacheCorruptionError("the manifest does not belong to its key (key parts do not hash to it)")
    if manifest.key_parts.get("target") != manifest.target:
        raise CacheCorruptionError("the manifest's target differs from its key's")
    if manifest.files:
        from webnnc.cache._files import check_manifest

        check_manifest(manifest, key)  # the file list: fixed names, adding up to the artifact hash


class BundleReader:
    """A verified view of a bundle file: its manifests, and each artifact's verified bytes.

    Opening checks the structure and every manifest; artifacts are hashed when read (and all
    of them by :meth:`verify_all`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._tar = tarfile.open(self.path, "r:*")  # noqa: SIM115 - closed by close()
        except (OSError, tarfile.TarError) as e:
            raise BundleError(f"{self.path}: not a readable webnnc bundle ({e})") from None
        try:
            self.manifests: dict[str, Manifest] = {}
            self.index: dict[str, Any] = {}  # the parsed index (fields beyond the format's are kept)
            self._objects: dict[str, tarfile.TarInfo | dict[str, tarfile.TarInfo]] = {}
            self._load()
        except BaseException:
            self._tar.close()
            raise

    def _fail(self, what: str) -> BundleError:
        return BundleError(f"{self.path}: rejected: {what}")

    def _read(self, info: tarfile.TarInfo) -> bytes:
        f = self._tar.extractfile(info)
        if f is None:
            raise self._fail(f"member {info.name!r} is not a regular file")
        with f:
            return f.read()

    def _load(self) -> None:
        members: dict[str, tarfile.TarInfo | None] = {}
        for info in self._tar.getmembers():
            if not info.isreg():
                raise self._fail(f"member {info.name!r} is not a regular file (links and folders are refused)")
            if info.name != _INDEX and not _MEMBER.fullmatch(info.name):
                raise self._fail(f"unexpected member {info.name!r}")
            if info.name in members:
                raise self._fail(f"member {info.name!r} appears twice")
            members[info.name] = info
        if _INDEX not in members:
            raise self._fail(f"no {_INDEX} (not a webnnc bundle)")
        try:
            index_member = members.pop(_INDEX)
            assert index_member is not None
            index = json.loads(self._read(index_member))
            self.index = index if isinstance(index, dict) else {}
            if index.get("bundle_version") != BUNDLE_VERSION:
                raise ValueError(f"bundle_version {index.get('bundle_version')!r}, expected {BUNDLE_VERSION}")
            listed = [(str(e["key"]), str(e["sha256"])) for e in index["entries"]]
            # every name the entry had in the exporting cache (its manifest's and the ones
            # registered later, e.g. `webnnc compile --name`); absent in older bundles
            self.names: dict[str, tuple[str, ...]] = {
                str(e["key"]): tuple(str(n) for n in e.get("names") or () if isinstance(n, str) and n)
                for e in index["entries"]
            }
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise self._fail(f"malformed {_INDEX}: {e}") from None
        for key, sha in listed:
            entry = members.pop(f"entries/{key}.json", None)
            if entry is None:
                raise self._fail(f"the manifest of listed key {key[:12]}… is missing")
            try:
                manifest = Manifest.from_json(self._read(entry))
                _check(manifest, key)
            except CacheCorruptionError as e:
                raise self._fail(f"entries/{key}.json: {e}") from None
            if manifest.artifact_sha256 != sha:
                raise self._fail(f"entries/{key}.json: artifact hash differs from the bundle index")
            if manifest.files:
                if sha not in self._objects:
                    parts: dict[str, tarfile.TarInfo] = {}
                    for name in manifest.files:
                        part = members.pop(f"objects/{sha}/{name}", None)
                        if part is None:
                            raise self._fail(f"the file {name} of artifact {sha[:12]}… (key {key[:12]}…) is missing")
                        parts[name] = part
                    self._objects[sha] = parts
            else:
                obj = members.get(f"objects/{sha}") or self._objects.get(sha)
                if obj is None or isinstance(obj, dict):
                    raise self._fail(f"the artifact {sha[:12]}… of key {key[:12]}… is missing")
                members.pop(f"objects/{sha}", None)
                self._objects[sha] = obj
            self.manifests[key] = manifest
        if members:
            raise self._fail(f"members not listed in the index: {sorted(members)[:3]}")

    def artifact(self, key: str) -> bytes | dict[str, bytes]:
        """The artifact of ``key``, verified against its manifest: its bytes, or for a
        multi-file artifact its files by name.

        Raises:
            BundleError: unknown key, or the bytes fail verification (tampered).
        """
        manifest = self.manifests.get(key)
        if manifest is None:
            raise BundleError(f"{self.path}: holds no entry {key[:12]}…")
        obj = self._objects[manifest.artifact_sha256]
        if isinstance(obj, dict):
            files = {}
            for name, info in obj.items():
                blob = self._read(info)
                want = manifest.files[name]
                if len(blob) != want["size"] or hashlib.sha256(blob).hexdigest() != want["sha256"]:
                    raise self._fail(f"objects/{manifest.artifact_sha256}/{name}: bytes do not match the manifest (tampered)")
                files[name] = blob
            return files
        data = self._read(obj)
        if len(data) != manifest.artifact_size or hashlib.sha256(data).hexdigest() != manifest.artifact_sha256:
            raise self._fail(f"objects/{manifest.artifact_sha256}: bytes do not match the manifest (tampered)")
        return data

    def artifact_stream(self, key: str, file: str | None = None) -> IO[bytes]:
        """The artifact of ``key`` (or its file ``file``, for a multi-file artifact) as a file
        object, NOT verified: the reader must hash it.

        For streaming a large artifact into a store that verifies what it reads
        (:meth:`webnnc.cache.store.ArtifactStore.put_stream`).
        """
        manifest = self.manifests.get(key)
        if manifest is None:
            raise BundleError(f"{self.path}: holds no entry {key[:12]}…")
        obj = self._objects[manifest.artifact_sha256]
        member = f"objects/{manifest.artifact_sha256}"
        if isinstance(obj, dict):
            if file is None or file not in obj:
                raise self._fail(f"{member}: name one of its files {sorted(obj)}, not {file!r}")
            obj, member = obj[file], f"{member}/{file}"
        elif file is not None:
            raise self._fail(f"{member} is one file; it has no file {file!r}")
        f = self._tar.extractfile(obj)
        if f is None:
            raise self._fail(f"{member} is not a regular file")
        return f

    def verify_all(self) -> None:
        """Hash every artifact (streaming); raise BundleError on the first bad one."""
        wanted = {}
        for m in self.manifests.values():
            for name, facts in m.files.items():
                wanted[f"objects/{m.artifact_sha256}/{name}"] = str(facts["sha256"])
        for sha, obj in self._objects.items():
            infos = list(obj.values()) if isinstance(obj, dict) else [obj]
            for info in infos:
                f = self._tar.extractfile(info)
                if f is None:
                    raise self._fail(f"member {info.name!r} is not a regular file")
                h = hashlib.sha256()
                with f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                if h.hexdigest() != wanted.get(info.name, sha):
                    raise self._fail(f"{info.name}: bytes do not match their name and manifest (tampered)")

    def find(self, name: str, target: str | None = None) -> list[Manifest]:
        """Manifests named ``name`` (for ``target``, or any), newest first."""
        found = [
            m for m in self.manifests.values()
            if (m.name == name or name in self.names.get(m.key, ())) and target in (None, m.target)
        ]
        return sorted(found, key=lambda m: m.created, reverse=True)

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _add(tar: tarfile.TarFile, name: str, data: bytes | Path, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = int(mtime)
    info.mode = 0o644
    if isinstance(data, Path):  # streamed from the cache (a weights file is hundreds of MB)
        with open(data, "rb") as f:
            info.size = os.fstat(f.fileno()).st_size
            tar.addfile(info, f)
        return
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def export_bundle(
    store: ArtifactStore,
    path: str | os.PathLike[str],
    names: Iterable[str] = (),
    *,
    target: str | None = None,
) -> list[Manifest]:
    """Write the verified entries named ``names`` (all entries when empty) to a bundle file.

    The file appears atomically (written beside it, then renamed).

    Raises:
        BundleError: a requested name has no (intact) entry, or nothing is left to export.
    """
    wanted = list(names)
    asked: dict[str, list[str]] = {}  # key -> the names it was exported by
    if wanted:
        manifests: list[Manifest] = []
        for name in wanted:
            found = store.find(name, target)
            if not found:
                raise BundleError(f"no entry named {name!r}{f' for {target}' if target else ''} in {store.directory}")
            manifests.extend(found)
            for m in found:
                asked.setdefault(m.key, []).append(name)
    else:
        manifests = [m for m in store.manifests() if target in (None, m.target)]
    out = Path(path)
    if not out.parent.is_dir():
        raise BundleError(f"cannot write {out}: folder {out.parent} does not exist")
    aliases = store.aliases()
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    exported: list[Manifest] = []
    seen: set[str] = set()
    try:
        # Streamed: one artifact in memory at a time; the index goes last (readers look
        # members up by name, not by position).
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            entries: list[dict[str, Any]] = []
            objects: set[str] = set()
            for m in manifests:
                if m.key in seen:
                    continue
                seen.add(m.key)
                hit = store.get(m.key, use=False)  # verified; a corrupt entry is dropped, not exported
                if hit is None:
                    continue
                hm = hit.manifest
                names = store.names(hm.key, hm, aliases=aliases)
                names += [n for n in asked.get(hm.key, ()) if n not in names]
                entries.append({
                    "key": hm.key, "sha256": hm.artifact_sha256, "name": hm.name, "names": names,
                    "target": hm.target,
                })
                _add(tar, f"entries/{hm.key}.json", hm.to_json().encode(), hm.created)
                if hm.artifact_sha256 not in objects:
                    objects.add(hm.artifact_sha256)
                    if hit.folder is not None:  # the reader re-hashes every file on import
                        for name in sorted(hm.files):
                            _add(tar, f"objects/{hm.artifact_sha256}/{name}", Path(hit.folder) / name, hm.created)
                    else:
                        _add(tar, f"objects/{hm.artifact_sha256}", hit.data, hm.created)
                exported.append(hm)
            if not exported:
                raise BundleError(f"nothing to export from {store.directory}")
            index = {"bundle_version": BUNDLE_VERSION, "created": time.time(), "entries": entries}
            _add(tar, _INDEX, json.dumps(index, indent=1, sort_keys=True).encode(), time.time())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return exported


def import_bundle(store: ArtifactStore, path: str | os.PathLike[str]) -> tuple[list[Manifest], list[Manifest]]:
    """Verify a whole bundle, then store its entries. Returns ``(imported, already present)``.

    Nothing is imported unless every manifest and artifact in the bundle verifies.

    Raises:
        BundleError: the bundle is malformed or tampered with.
        CacheError: the store cannot be written.
    """
    imported: list[Manifest] = []
    present: list[Manifest] = []
    with BundleReader(path) as bundle:
        bundle.verify_all()
        for key, manifest in bundle.manifests.items():
            if store.get(key, use=False) is not None:
                present.append(manifest)
            elif store.put(manifest, bundle.artifact(key)) is None:
                raise CacheError(f"cannot import into {store.directory}: {store.problem or 'not writable'}")
            else:
                imported.append(manifest)
            for name in bundle.names.get(key, ()):  # runtime.load(name) finds it by every name
                if name != manifest.name:
                    store.add_name(manifest, name)
    return imported, present


class BundleWriter:
    """Streams entries into a new bundle file, which appears atomically on :meth:`close`.

    ``index_extra`` fields are written into the bundle index beside the format's own
    (readers keep them in :attr:`BundleReader.index`); the remote tier puts entry
    signatures there.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        self._tar: tarfile.TarFile | None = tarfile.open(self._tmp, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._entries: list[dict[str, Any]] = []
        self._objects: set[str] = set()
        self.manifests: list[Manifest] = []

    def add(self, manifest: Manifest, data: bytes, folder: str | os.PathLike[str] | None = None) -> None:
        """Add one entry (its artifact is written once per distinct sha256).

        A multi-file artifact (``manifest.files``) is streamed file by file from ``folder``,
        the verified entry's folder in the store (``CachedArtifact.folder``).
        """
        assert self._tar is not None, "the bundle is closed"
        if any(e["key"] == manifest.key for e in self._entries):
            return
        self._entries.append(
            {"key": manifest.key, "sha256": manifest.artifact_sha256, "name": manifest.name, "target": manifest.target}
        )
        _add(self._tar, f"entries/{manifest.key}.json", manifest.to_json().encode(), manifest.created)
        if manifest.artifact_sha256 not in self._objects:
            self._objects.add(manifest.artifact_sha256)
            if manifest.files:
                if folder is None:
                    raise BundleError(f"entry {manifest.key[:12]}… has several files: give its folder")
                for name in sorted(manifest.files):
                    _add(self._tar, f"objects/{manifest.artifact_sha256}/{name}", Path(folder) / name, manifest.created)
            else:
                _add(self._tar, f"objects/{manifest.artifact_sha256}", data, manifest.created)
        self.manifests.append(manifest)

    def close(self, index_extra: dict[str, Any] | None = None) -> None:
        """Write the index and publish the file (rename)."""
        if self._tar is None:
            return
        tar, self._tar = self._tar, None
        try:
            index = {**(index_extra or {}), "bundle_version": BUNDLE_VERSION, "created": time.time(),
                     "entries": self._entries}
            _add(tar, _INDEX, json.dumps(index, indent=1, sort_keys=True).encode(), time.time())
            tar.close()
            os.replace(self._tmp, self.path)
        finally:
            tar.close()
            self._tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        """Discard the unfinished file."""
        if self._tar is not None:
            self._tar.close()
            self._tar = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
