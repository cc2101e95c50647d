"""Deployment bundles: one file carrying compiled artifacts and their manifests.

A build machine runs ``webnnc cache export models.webnnc NAME...``; a machine that installs
only the runtime runs ``webnnc cache import models.webnnc`` (or ``python -m webnnc cache
import``), or loads straight from the file with ``webnnc.runtime.load(name,
bundle="models.webnnc")``. Stdlib only (plus the store, for export and import).

Format: an uncompressed POSIX tar (gzip is accepted on reading) holding exactly

    webnnc-bundle.json          {"bundle_version": 1, "entries": [{"key", "sha256", "names"}, ...]}
    entries/<key>.json          each entry's manifest
    objects/<sha256>            each artifact, named by its own sha256
    objects/<sha256>/<file>     each file of a multi-file artifact (``model.onnx``, ``weights``, ``kernels.so``)

# NOTE: a bundle has an origin. Export signs every entry (``signatures[<key>]`` in the index,
# the record the remote tier uses, over the same payload) and every name it carries
# (``name_signatures[<key>][<name>]``) with :func:`bundle_keyring`'s signer: the user's own
# cache key unless ``WEBNNC_BUNDLE_SIGNING_KEY`` (Ed25519) or ``WEBNNC_BUNDLE_KEY`` (a shared
# secret) names another. Import and ``runtime.load(bundle=)`` refuse an entry that is
# unsigned or signed by a key not trusted here (the user's own, ``WEBNNC_BUNDLE_KEY`` /
# ``_KEY_FILE``, ``WEBNNC_BUNDLE_TRUSTED_KEYS``) unless the caller opts in
# (``trust_unsigned``, ``--trust-unsigned``); a trusted key's signature that does not verify
# is refused always (tampered). Names without a trusted signature are dropped.
#
# NOTE: bounded reading. Members are counted, tar extension headers (pax, GNU long names)
# above 1 MiB and sparse members are refused while the archive is scanned, the index and the
# manifests are refused above their size limits before a byte is read, and each artifact
# member must have exactly the size its manifest declares: a bomb costs a header, not RAM.
#
# NOTE: a bundle is untrusted input. It is never extracted to disk by tarfile (no paths from
# the archive are used), members are read only as bytes, any member that is not a regular
# file with one of the names above rejects the whole bundle, and every manifest is checked
# against its key (the key parts must hash to it) and every artifact against the manifest's
# size and sha256 before anything is imported or loaded. Nothing is unpickled or executed:
# manifests are JSON, artifacts are bytes handed to ONNX Runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tarfile
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from webnnc.cache._bundle_trust import bundle_keyring
from webnnc.cache.errors import CacheCorruptionError, CacheError
from webnnc.cache.manifest import ENTRY_FILES, MAX_JSON_BYTES, Manifest, load_json
from webnnc.cache.signing import Keyring, SignatureError, name_payload

if TYPE_CHECKING:
    from webnnc.cache.store import ArtifactStore

__all__ = [
    "BUNDLE_VERSION",
    "BundleError",
    "BundleImport",
    "BundleReader",
    "BundleWriter",
    "bundle_keyring",
    "export_bundle",
    "import_bundle",
]

logger = logging.getLogger(__name__)

BUNDLE_VERSION = 1
_INDEX = "webnnc-bundle.json"
_MEMBER = re.compile(
    r"(entries/([0-9a-f]{64})\.json|objects/([0-9a-f]{64})(/(" + "|".join(map(re.escape, ENTRY_FILES)) + r"))?)"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_MAX_MEMBERS = 1 << 16  # 4 members per entry at most: 16,000 entries, far beyond any deployment
_MAX_INDEX = 4 * MAX_JSON_BYTES  # ~300 B per entry in the index
_MAX_HEADER = 1 << 20  # a pax / GNU long-name header: a bundle's member names are under 100 B


class BundleError(CacheError):
    """A bundle is malformed, tampered with, not trusted, or does not hold what was asked for."""


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses oversized extension headers and sparse members while the archive is scanned
    (tarfile reads a pax header whole: a 1 MB gzip bundle can declare a 2 GB one)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        if self.type in (b"x", b"g", b"X", b"L", b"K") and self.size > _MAX_HEADER:
            raise BundleError(f"rejected: a tar extension header of {self.size} B (over {_MAX_HEADER} B)")
        if self.type == b"S":
            raise BundleError(f"rejected: member {self.name!r} is a sparse file")
        member: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
        if member.sparse is not None:  # pax-encoded sparse member
            raise BundleError(f"rejected: member {member.name!r} is a sparse file")
        return member


def _kind(value: object) -> str:
    """What a JSON value is, for messages: ``a list``, ``a string``, ``null``."""
    if value is None:
        return "null"
    name = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _parse_index(index: object) -> tuple[list[tuple[str, str]], dict[str, tuple[str, ...]]]:
    """The (key, sha256) pairs a bundle index lists, and each key's names.

    Raises:
        ValueError: the index is not the format's (the message says what was expected and found).
    """
    if not isinstance(index, dict):
        raise ValueError(f"expected a JSON object, found {_kind(index)}")
    if index.get("bundle_version") != BUNDLE_VERSION:
        raise ValueError(f"bundle_version {index.get('bundle_version')!r}, expected {BUNDLE_VERSION}")
    entries = index.get("entries")
    if not isinstance(entries, list):
        raise ValueError(f"'entries': expected a list, found {_kind(entries)}")
    listed: list[tuple[str, str]] = []
    # every name the entry had in the exporting cache (its manifest's and the ones
    # registered later, e.g. `webnnc compile --name`); absent in older bundles
    names: dict[str, tuple[str, ...]] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(f"entries[{i}]: expected an object with key and sha256, found {_kind(e)}")
        key, sha = e.get("key"), e.get("sha256")
        for field_name, value in (("key", key), ("sha256", sha)):
            if not (isinstance(value, str) and _HEX64.fullmatch(value)):
                raise ValueError(f"entries[{i}].{field_name}: expected 64 hex digits, found {value!r:.80}")
        assert isinstance(key, str) and isinstance(sha, str)
        if key in names:
            raise ValueError(f"entries[{i}]: key {key[:12]}… is listed twice")
        given = e.get("names")
        if given is not None and not isinstance(given, list):
            raise ValueError(f"entries[{i}].names: expected a list of strings, found {_kind(given)}")
        listed.append((key, sha))
        names[key] = tuple(n for n in given or () if isinstance(n, str) and n)
    return listed, names


def _check(manifest: Manifest, key: str) -> None:
    from webnnc.cache.key import key_digest

    if manifest.key != key or key_digest(manifest.key_parts) != key:
        raise CacheCorruptionError("the manifest does not belong to its key (key parts do not hash to it)")
    if manifest.key_parts.get("target") != manifest.target:
        raise CacheCorruptionError("the manifest's target differs from its key's")
    if manifest.files:
        from webnnc.cache._files import check_manifest

        check_manifest(manifest, key)  # the file list: fixed names, adding up to the artifact hash


def _open_problem(path: Path, error: BaseException) -> str:
    """Why ``tarfile.open`` refused ``path``, in one line (tarfile lists every method it tried,
    one per line)."""
    if isinstance(error, OSError) and not isinstance(error, tarfile.TarError):
        return str(error)
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    if size == 0:
        return "expected a tar archive, found an empty file"
    if isinstance(error, tarfile.ReadError) and "could not be opened successfully" in str(error):
        return f"expected a tar archive (optionally gzip-compressed), found {size} B of something else"
    return " ".join(f"{type(error).__name__}: {error}".split())


class BundleReader:
    """A verified view of a bundle file: its manifests, and each artifact's verified bytes.

    Opening checks the structure and every manifest; artifacts are hashed when read (and all
    of them by :meth:`verify_all`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._tar = tarfile.open(self.path, "r:*", tarinfo=_BoundedTarInfo)  # noqa: SIM115 - closed by close()
        except BundleError as e:
            raise BundleError(f"{self.path}: {e}") from None
        except (OSError, tarfile.TarError, EOFError, zlib.error) as e:
            raise BundleError(f"{self.path}: not a readable webnnc bundle ({_open_problem(self.path, e)})") from None
        try:
            self.manifests: dict[str, Manifest] = {}
            self.index: dict[str, Any] = {}  # the parsed index (fields beyond the format's are kept)
            self._objects: dict[str, tarfile.TarInfo | dict[str, tarfile.TarInfo]] = {}
            self.signers: dict[str, str] = {}  # key -> who signed it, once check_origin ran
            self._load()
        except (OSError, tarfile.TarError, EOFError, zlib.error) as e:  # truncated mid-archive
            self._tar.close()
            raise BundleError(f"{self.path}: not a readable webnnc bundle ({type(e).__name__}: {e})") from None
        except BaseException:
            self._tar.close()
            raise

    def _fail(self, what: str) -> BundleError:
        return BundleError(f"{self.path}: rejected: {what}")

    def _read(self, info: tarfile.TarInfo, limit: int | None = None) -> bytes:
        if limit is not None and info.size > limit:
            raise self._fail(f"member {info.name!r} is {info.size} B, over the {limit} B limit (refused unread)")
        f = self._tar.extractfile(info)
        if f is None:
            raise self._fail(f"member {info.name!r} is not a regular file")
        try:
            with f:
                data = f.read()
        except (OSError, tarfile.TarError, EOFError, zlib.error) as e:
            raise self._fail(f"member {info.name!r} is unreadable (truncated? {type(e).__name__}: {e})") from None
        except MemoryError:
            raise self._fail(f"member {info.name!r} ({info.size} B) does not fit in memory; import it instead") from None
        if len(data) != info.size:
            raise self._fail(f"member {info.name!r} is truncated")
        return data

    def _scan(self) -> Iterator[tarfile.TarInfo]:
        for i, info in enumerate(self._tar):
            if i >= _MAX_MEMBERS:
                raise self._fail(f"more than {_MAX_MEMBERS} members")
            yield info

    def _load(self) -> None:
        members: dict[str, tarfile.TarInfo | None] = {}
        for info in self._scan():
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
            index = load_json(self._read(index_member, _MAX_INDEX), _INDEX, _MAX_INDEX)
            listed, self.names = _parse_index(index)
            self.index = index
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise self._fail(f"malformed {_INDEX}: {e}") from None
        for key, sha in listed:
            entry = members.pop(f"entries/{key}.json", None)
            if entry is None:
                raise self._fail(f"the manifest of listed key {key[:12]}… is missing")
            try:
                manifest = Manifest.from_json(self._read(entry, MAX_JSON_BYTES))
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
                        if part.size != manifest.files[name]["size"]:  # declared sizes checked before reading
                            raise self._fail(f"{part.name} is {part.size} B, its manifest says {manifest.files[name]['size']} B")
                        parts[name] = part
                    self._objects[sha] = parts
            else:
                obj = members.get(f"objects/{sha}") or self._objects.get(sha)
                if obj is None or isinstance(obj, dict):
                    raise self._fail(f"the artifact {sha[:12]}… of key {key[:12]}… is missing")
                if obj.size != manifest.artifact_size:
                    raise self._fail(f"{obj.name} is {obj.size} B, its manifest says {manifest.artifact_size} B")
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
                try:
                    with f:
                        while chunk := f.read(_CHUNK):
                            h.update(chunk)
                except (OSError, tarfile.TarError, EOFError, zlib.error) as e:
                    raise self._fail(f"member {info.name!r} is unreadable (truncated? {type(e).__name__})") from None
                if h.hexdigest() != wanted.get(info.name, sha):
                    raise self._fail(f"{info.name}: bytes do not match their name and manifest (tampered)")

    def check_origin(self, keyring: Keyring, *, trust_unsigned: bool = False) -> dict[str, str]:
        """Check who signed every entry; keep only the names a trusted key signed.

        Returns ``{key: signer}`` (also kept in :attr:`signers`).

        Raises:
            BundleError: an entry is unsigned or signed by a key not trusted here (unless
                ``trust_unsigned``), or a trusted key's signature does not verify (always).
        """
        from webnnc.cache._bundle_trust import check_origin

        try:
            check_origin(self, keyring, trust_unsigned=trust_unsigned)
        except SignatureError as e:
            raise self._fail(str(e)) from None
        return dict(self.signers)

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
    keyring: Keyring | None = None,
) -> list[Manifest]:
    """Write the verified entries named ``names`` (all entries when empty) to a bundle file.

    Every entry and name is signed with ``keyring``'s signer (default :func:`bundle_keyring`).
    The file appears atomically (written beside it, then renamed).

    Raises:
        BundleError: a requested name has no (intact) entry, nothing is left to export, or
            there is no key to sign with.
    """
    try:
        ring = keyring if keyring is not None else bundle_keyring()
    except SignatureError as e:
        raise BundleError(f"cannot sign the bundle: {e}") from None
    if ring.signer is None:
        raise BundleError(
            "cannot sign the bundle: no key (this user's cache key is unavailable and "
            "WEBNNC_BUNDLE_SIGNING_KEY / WEBNNC_BUNDLE_KEY are not set)"
        )
    signatures: dict[str, dict[str, str]] = {}
    name_signatures: dict[str, dict[str, dict[str, str]]] = {}
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
    if out.is_dir():
        raise BundleError(f"cannot write {out}: expected a bundle file path, found a folder")
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
                entry_names = store.names(hm.key, hm, aliases=aliases)
                entry_names += [n for n in asked.get(hm.key, ()) if n not in entry_names]
                entries.append({
                    "key": hm.key, "sha256": hm.artifact_sha256, "name": hm.name, "names": entry_names,
                    "target": hm.target,
                })
                signatures[hm.key] = ring.sign_entry(hm)
                name_signatures[hm.key] = {n: ring.sign(name_payload(hm.target, n, hm.key)) for n in entry_names}
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
            index = {
                "bundle_version": BUNDLE_VERSION, "created": time.time(), "entries": entries,
                "signatures": signatures, "name_signatures": name_signatures,
            }
            _add(tar, _INDEX, json.dumps(index, indent=1, sort_keys=True).encode(), time.time())
        os.replace(tmp, out)
    except OSError as e:  # a read-only or full folder, no permission: not a traceback from tarfile
        raise BundleError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):  # a read-only folder refuses even this (EROFS, not ENOENT)
            tmp.unlink(missing_ok=True)
    return exported


@dataclass
class BundleImport:
    """What :func:`import_bundle` did. Unpacks as ``(imported, present)``."""

    imported: list[Manifest] = field(default_factory=list)
    present: list[Manifest] = field(default_factory=list)
    # same key, other artifact bytes than the cache's entry (kept): a compiler that is not
    # deterministic, or a bundle built elsewhere with other tools; never silently "present"
    conflicts: list[Manifest] = field(default_factory=list)
    signers: dict[str, str] = field(default_factory=dict)  # key -> who signed it

    def __iter__(self) -> Iterator[list[Manifest]]:
        return iter((self.imported, self.present))


def import_bundle(
    store: ArtifactStore,
    path: str | os.PathLike[str],
    *,
    trust_unsigned: bool = False,
    keyring: Keyring | None = None,
) -> BundleImport:
    """Verify a whole bundle (origin, structure, bytes), then store its entries.

    Nothing is imported unless every entry is signed by a trusted key (``keyring``, default
    :func:`bundle_keyring`; ``trust_unsigned`` accepts unsigned and foreign entries) and
    every manifest and artifact verifies. An entry whose key the cache already holds with
    other artifact bytes is kept as it is and reported in ``conflicts`` (one warning each).

    Raises:
        BundleError: the bundle is malformed, tampered with, or not trusted.
        CacheError: the store cannot be written.
    """
    report = BundleImport()
    try:
        ring = keyring if keyring is not None else bundle_keyring()
    except SignatureError as e:
        raise BundleError(f"cannot check the bundle's signatures: {e}") from None
    with BundleReader(path) as bundle:
        report.signers = bundle.check_origin(ring, trust_unsigned=trust_unsigned)
        bundle.verify_all()
        for key, manifest in bundle.manifests.items():
            have = store.get(key, use=False)
            if have is not None:
                if have.manifest.artifact_sha256 != manifest.artifact_sha256:
                    logger.warning(
                        "%s: entry %s… (%s) differs from the cache's entry of the same key "
                        "(artifact %s… here, %s… in the bundle); kept the cache's",
                        path, key[:12], manifest.name or "-", have.manifest.artifact_sha256[:12],
                        manifest.artifact_sha256[:12],
                    )
                    report.conflicts.append(manifest)
                else:
                    report.present.append(manifest)
            elif not _put_streamed(store, bundle, key, manifest):
                raise CacheError(f"cannot import into {store.directory}: {store.problem or 'not writable'}")
            else:
                report.imported.append(manifest)
            for name in bundle.names.get(key, ()):  # runtime.load(name) finds it by every name
                if name != manifest.name:
                    store.add_name(manifest, name)
    return report


def _put_streamed(store: ArtifactStore, bundle: BundleReader, key: str, manifest: Manifest) -> bool:
    """Store ``key``'s artifact file by file, hashed again while it is copied (a weights file
    is hundreds of MB: never whole in memory). False when the store cannot be written."""
    try:
        if manifest.files:
            return store.put_stream(manifest, lambda name: bundle.artifact_stream(key, name))
        with bundle.artifact_stream(key) as f:
            return store.put_stream(manifest, f)
    except CacheCorruptionError as e:  # the file changed after verify_all()
        raise BundleError(f"{bundle.path}: rejected: {e}") from None


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
