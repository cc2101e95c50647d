"""Storage engines behind the remote tier: object storage through fsspec, and Redis.

Both offer the same small set of operations on named objects (``entries/<key>.webnnc``,
``names/<target>/<name>``, ``locks/<key>``): stream a large object to or from a local
file, read or write a small one, and take or release a lock that expires.

# NOTE: atomic publication. A reader must never see half an object. An S3 PUT (single or
# multipart) becomes visible whole; a local or network folder gets a temporary name and a
# rename; Redis gets a temporary key (appended to in chunks) and RENAME. A reader that
# still meets a short object (a store without those guarantees) finds the bundle truncated
# and refuses it: the cost is a local compile, never a wrong artifact.
#
# NOTE: locks. Redis: ``SET NX PX`` (the server expires it; no clock is trusted) and a
# compare-and-delete script to release. Object storage: a conditional create (S3
# ``If-None-Match: *``, ``O_EXCL`` on a folder) of a small JSON record holding a token and
# a wall-clock expiry; a lock past its expiry is deleted and taken again by whoever sees it
# first (this trusts the machines' clocks to within the TTL, which is minutes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from webnnc.cache.errors import CacheError
from webnnc.cache.remote._config import RemoteConfigError

__all__ = ["Backend", "FsspecBackend", "ObjectTooLargeError", "RedisBackend", "open_backend"]

logger = logging.getLogger(__name__)

_CHUNK = 4 << 20  # 4 MiB per Redis GETRANGE/APPEND: well under the 512 MB value limit, few round trips


class ObjectTooLargeError(CacheError):
    """A remote object is larger than the caller allows."""


class Backend(Protocol):
    """The operations the remote tier needs from a storage engine.

    Every method raises an exception (not None) when the engine cannot be reached; missing
    objects are reported as None / False.
    """

    url: str

    def download(self, name: str, dest: Path, limit: int) -> bool: ...

    def upload(self, name: str, src: Path) -> None: ...

    def read_small(self, name: str, limit: int = 1 << 16) -> bytes | None: ...

    def write_small(self, name: str, data: bytes) -> None: ...

    def exists(self, name: str) -> bool: ...

    def try_lock(self, name: str, token: str, ttl: float) -> bool: ...

    def unlock(self, name: str, token: str) -> None: ...

    def close(self) -> None: ...


class FsspecBackend:
    """Object storage or a shared folder, through an fsspec URL (``s3://``, ``file://``, ...)."""

    def __init__(self, url: str, *, timeout: float, options: dict[str, Any]) -> None:
        from fsspec.core import url_to_fs

        self.url = url
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        opts = dict(options)
        if protocol in ("s3", "s3a"):
            # Fail fast: one attempt per request, bounded connect/read waits; s3fs's own
            # retry loop is for throttling, so keep one retry there.
            cfg = dict(opts.get("config_kwargs") or {})
            cfg.setdefault("connect_timeout", timeout)
            cfg.setdefault("read_timeout", timeout)
            cfg.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
            opts["config_kwargs"] = cfg
            opts.setdefault("skip_instance_cache", True)
            opts.setdefault("use_listings_cache", False)
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint and "endpoint_url" not in opts and "endpoint_url" not in (opts.get("client_kwargs") or {}):
                opts["endpoint_url"] = endpoint
        self.fs, root = url_to_fs(url, **opts)
        self.root = root.rstrip("/")
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def download(self, name: str, dest: Path, limit: int) -> bool:
        path = self._path(name)
        try:
            size = int(self.fs.info(path).get("size") or 0)
        except FileNotFoundError:
            return False
        if size > limit:
            raise ObjectTooLargeError(f"{self.url}/{name} is {size} B, over the {limit} B limit")
        try:
            if self.local:
                self.fs.get_file(path, str(dest))
            else:
                # One streamed GET. s3fs's default downloads large objects in concurrent
                # parts held in memory: benchmarks/bench_remote.py, 400 MB from moto on
                # loopback: default 9.7 s and +477 MB peak RSS; 4 x 8 MiB parts 28 s and
                # +87 MB; one stream 3.1 s and +20 MB.
                self.fs.get_file(path, str(dest), max_concurrency=1)
        except FileNotFoundError:  # deleted between info and get
            return False
        return True

    def upload(self, name: str, src: Path) -> None:
        path = self._path(name)
        if not self.local:
            self.fs.put_file(str(src), path)  # S3: a PUT or a multipart upload, visible whole
            return
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            self.fs.put_file(str(src), tmp)
            self.fs.mv(tmp, path)  # rename: atomic within one folder
        finally:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)

    def read_small(self, name: str, limit: int = 1 << 16) -> bytes | None:
        try:
            data = bytes(self.fs.cat_file(self._path(name), start=0, end=limit + 1))
        except FileNotFoundError:
            return None
        if len(data) > limit:
            raise ObjectTooLargeError(f"{self.url}/{name} is over {limit} B")
        return data

    def write_small(self, name: str, data: bytes) -> None:
        path = self._path(name)
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        tmp = Path(f"{path}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):  # gone after the rename; debris after a failure
                tmp.unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self._path(name)))

    def try_lock(self, name: str, token: str, ttl: float) -> bool:
        path = self._path(name)
        record = json.dumps({"token": token, "expires": time.time() + ttl}).encode()
        for _ in range(2):
            if self._create_exclusive(path, record):
                return True
            held = self.read_small(name)
            try:
                expires = float(json.loads(held or b"{}").get("expires", 0))
            except (ValueError, AttributeError):
                expires = 0.0
            if held is not None and expires > time.time():
                return False
            logger.info("remote build lock %s expired (its holder vanished); taking it over", name)
            self._delete(path)
        return False

    def _create_exclusive(self, path: str, data: bytes) -> bool:
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return True
        try:
            self.fs.pipe_file(path, data, mode="create")  # S3: PUT with If-None-Match: *
        except (FileExistsError, OSError) as e:
            if isinstance(e, FileExistsError) or "PreconditionFailed" in str(e) or "412" in str(e):
                return False
            raise
        return True

    def _delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def unlock(self, name: str, token: str) -> None:
        held = self.read_small(name)
        if held is not None and token.encode() in held:
            self._delete(self._path(name))

    def close(self) -> None:
        pass


# Redis: release only the lock we hold (a lock that expired and was taken by another
# machine must not be deleted by the first holder finishing late).
_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisBackend:
    """A Redis server (``redis://host:port/db?prefix=webnnc``): objects are string values."""

    def __init__(self, url: str, *, timeout: float) -> None:
        import redis

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", "webnnc").strip("/")
        self.url = url
        clean = urlunsplit(parts._replace(query=urlencode(query)))
        self.r = redis.Redis.from_url(
            clean, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def download(self, name: str, dest: Path, limit: int) -> bool:
        key = self._key(name)
        size = int(self.r.strlen(key))
        if size == 0:
            if not self.r.exists(key):
                return False
            dest.write_bytes(b"")
            return True
        if size > limit:
            raise ObjectTooLargeError(f"{self.url} {key} is {size} B, over the {limit} B limit")
        with open(dest, "wb") as f:
            for off in range(0, size, _CHUNK):
                chunk = cast(bytes, self.r.getrange(key, off, min(off + _CHUNK, size) - 1))
                if not chunk:  # replaced or deleted meanwhile: what we have is truncated
                    break
                f.write(chunk)
        return True

    def upload(self, name: str, src: Path) -> None:
        key = self._key(name)
        tmp = f"{key}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(src, "rb") as f:
                first = True
                while chunk := f.read(_CHUNK):
                    self.r.append(tmp, chunk)
                    if first:  # an abandoned upload disappears by itself
                        self.r.expire(tmp, 3600)
                        first = False
            if first:
                self.r.set(tmp, b"", ex=3600)
            with self.r.pipeline(transaction=True) as p:
                p.rename(tmp, key)
                p.persist(key)
                p.execute()
        except BaseException:
            try:
                self.r.delete(tmp)
            except Exception as e:  # the server is gone: the key expires by itself
                logger.debug("cannot delete the partial upload %s: %s", tmp, e)
            raise

    def read_small(self, name: str, limit: int = 1 << 16) -> bytes | None:
        data = cast(bytes, self.r.getrange(self._key(name), 0, limit))
        if not data:
            return None if not self.r.exists(self._key(name)) else b""
        if len(data) > limit:
            raise ObjectTooLargeError(f"{self.url} {self._key(name)} is over {limit} B")
        return bytes(data)

    def write_small(self, name: str, data: bytes) -> None:
        self.r.set(self._key(name), data)

    def exists(self, name: str) -> bool:
        return bool(self.r.exists(self._key(name)))

    def try_lock(self, name: str, token: str, ttl: float) -> bool:
        return bool(self.r.set(self._key(name), token, nx=True, px=max(1, int(ttl * 1000))))

    def unlock(self, name: str, token: str) -> None:
        self.r.eval(_UNLOCK, 1, self._key(name), token)

    def close(self) -> None:
        self.r.close()


def open_backend(url: str, *, timeout: float, options: dict[str, Any]) -> Backend:
    """The backend for ``url``: Redis for ``redis://`` / ``rediss://`` / ``unix://``, else fsspec.

    Raises:
        CacheError: the library the URL needs is not installed.
        RemoteConfigError: the URL (or a storage option) is malformed; nothing was contacted.
    """
    given = url
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    try:
        if "://" in url:
            _ = urlsplit(url).port  # a broken host or port ("http://[::1", "redis://h:99999") fails here
        if scheme in ("redis", "rediss", "unix"):
            return RedisBackend(url, timeout=timeout)
        if scheme == "file" and "://" not in url:
            url = f"file://{Path(url).expanduser().resolve()}"
        return FsspecBackend(url, timeout=timeout, options=options)
    except ImportError as e:
        raise CacheError(
            f"the remote cache {url} needs the {e.name or 'missing'} package (pip install 'webnnc[remote]')"
        ) from None
    except (ValueError, TypeError, KeyError) as e:
        # opening contacts nothing (fsspec and redis connect on first use): what fails here
        # is the URL itself (an unknown protocol, a bad port, a broken IPv6 host) or an option
        raise RemoteConfigError(
            f"remote cache URL {given!r}: expected s3://BUCKET/PREFIX, file:///FOLDER (or a folder path) "
            f"or redis://HOST:PORT/DB; found {type(e).__name__}: {' '.join(str(e).split())[:200]}"
        ) from None

