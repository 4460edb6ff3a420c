"""Download, verify and locate the course's raw data files.

Every dataset file the course uses is listed in :data:`FILES` (:mod:`course_lib.data.catalog`)
with its canonical URL and md5. :func:`ensure_file` returns the local path of a verified copy,
downloading it on first use:

* files live in :func:`course_lib.runtime.data_dir` (``COURSE_DATA_DIR`` or ``<repo>/data``), under
  the same relative path as their key, e.g. ``omniglot/all_runs.zip``;
* a download is streamed into a temporary file next to its target, checked for length and md5, and
  only then renamed into place with :func:`os.replace` (atomic), so an interrupted or truncated
  download never looks like a complete file;
* network errors, server errors and truncated transfers are retried with exponential back-off;
* with ``COURSE_DATA_DIR`` pointing at an existing (possibly read-only) mirror nothing is
  downloaded; a missing file in a read-only folder is reported as such.

:func:`file_status` checks every file without downloading anything. Anything missing or wrong
raises :class:`DataError`, whose message names the file, the expected md5 (and the actual one when
there is a file), and the exact command or URL that fixes it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from course_lib import runtime
from course_lib.data.catalog import FILES, DataError, RemoteFile, fix_command, md5sum, mismatch
from course_lib.i18n import tr

__all__ = [
    "FILES",
    "DataError",
    "RemoteFile",
    "download_file",
    "ensure_file",
    "file_status",
    "fix_command",
    "is_writable",
    "local_path",
    "md5sum",
    "remote_file",
]

_CHUNK = 1 << 16
_USER_AGENT = "meta-learning-hands-on (python urllib)"


def remote_file(key: str) -> RemoteFile:
    """Look up ``key`` in :data:`FILES`; unknown keys raise a KeyError listing the known ones."""
    try:
        return FILES[key]
    except KeyError:
        known = "\n  ".join(sorted(FILES))
        raise KeyError(f"unknown data file {key!r}; known files:\n  {known}") from None


def local_path(key: str) -> Path:
    """Where ``key`` lives (or will live) in the data folder."""
    return runtime.data_dir() / remote_file(key).relpath


def is_writable(folder: Path) -> bool:
    """True when files can be created in ``folder`` (or in its nearest existing parent)."""
    probe = Path(folder)
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    if not probe.is_dir() or not probe.stat().st_mode & 0o222:
        return False  # no write bit for anyone: meant to be read-only (even for root, who could write)
    try:  # really try: permission bits say nothing about read-only mounts
        with tempfile.TemporaryFile(dir=probe):
            return True
    except OSError:
        return False


def _missing_message(spec: RemoteFile, path: Path, reason: str) -> str:
    return tr(
        "Data file {key} is missing ({reason}).\n"
        "  expected at: {path}\n"
        "  expected md5: {md5}\n"
        "  fix: run `{fix}`, or download {url} to that path by hand, "
        "or set COURSE_DATA_DIR to a folder that already holds it.",
        key=spec.key, reason=reason, path=path, md5=spec.md5, fix=fix_command(spec.key), url=spec.url,
    )


def _corrupt_message(spec: RemoteFile, path: Path, actual: str) -> str:
    size = path.stat().st_size if path.exists() else 0
    hint = ""
    if spec.size_hint and size < spec.size_hint and not spec.members:
        hint = tr(" (it has {size:,} bytes, the complete file has {complete:,}: truncated)", size=size,
                  complete=spec.size_hint)
    return (
        tr("Data file {key} at {path} is corrupt{hint}.\n", key=spec.key, path=path, hint=hint)
        + (tr("  found: {actual}\n", actual=actual) if spec.members
           else tr("  expected md5: {md5}\n  actual md5:   {actual}\n", md5=spec.md5, actual=actual))
        + tr("  fix: run `{fix}` to replace it with a fresh copy of {url}.", fix=fix_command(spec.key), url=spec.url)
    )


def file_status(keys: list[str] | None = None) -> list[dict]:
    """Check every known file (or ``keys``) in the data folder without downloading anything.

    Returns one dict per file with keys ``key, path, url, md5, actual_md5, status, optional, fix``,
    where ``status`` is ``"ok"`` (present and verified), ``"corrupt"`` (md5 differs) or ``"missing"``.
    """
    rows = []
    for key in keys if keys is not None else list(FILES):
        spec = remote_file(key)
        path = local_path(key)
        actual = md5sum(path) if path.is_file() else None
        if actual is None:
            status = "missing"
        elif mismatch(spec, path) is None:
            status = "ok"
        else:
            status = "corrupt"
        rows.append(
            {
                "key": key,
                "path": path,
                "url": spec.url,
                "md5": spec.md5,
                "actual_md5": actual,
                "status": status,
                "optional": spec.optional,
                "fix": "" if status == "ok" else fix_command(key),
            }
        )
    return rows


def ensure_file(key: str, *, download: bool = True, retries: int = 4, timeout: float = 60.0) -> Path:
    """Return the path of a verified copy of ``key``, downloading it if it is missing.

    Args:
        key: a key of :data:`FILES`, e.g. ``"omniglot/all_runs.zip"``.
        download: if False, a missing file raises :class:`DataError` instead of being fetched.
        retries: download attempts after the first one (network errors, truncation, bad md5).
        timeout: seconds before a stalled connection counts as a failed attempt.

    A present file whose md5 differs is never silently overwritten: it raises :class:`DataError`
    telling how to replace it (``python -m course_lib data --download <key>``).
    """
    spec = remote_file(key)
    path = local_path(key)
    if path.is_file():
        actual = mismatch(spec, path)
        if actual is None:
            return path
        raise DataError(_corrupt_message(spec, path, actual))
    if not download:
        raise DataError(_missing_message(spec, path, tr("downloads are switched off")))
    if not is_writable(path.parent):
        raise DataError(
            _missing_message(
                spec, path,
                tr("the data folder {folder} is read-only, e.g. an offline mirror, so it cannot be downloaded there",
                   folder=runtime.data_dir()),
            )
            + tr("\n  (or point COURSE_DATA_DIR at a writable folder and run the command above)")
        )
    return download_file(key, retries=retries, timeout=timeout)


class _TransferError(Exception):
    """A download attempt failed in a way worth retrying."""


def _open(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)


def _fetch_once(spec: RemoteFile, target: Path, timeout: float, progress: bool) -> None:
    """Stream one download into a temp file beside ``target``; verify; atomically rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        received = 0
        with os.fdopen(fd, "wb") as out, _open(spec.url, timeout) as response:
            length = response.headers.get("Content-Length") if response.headers is not None else None
            expected_len = int(length) if length and length.isdigit() else None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=expected_len or spec.size_hint, unit="B", unit_scale=True,
                           desc=f"download {spec.key}", leave=False)
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
            out.flush()
            os.fsync(out.fileno())
        if expected_len is not None and received != expected_len:
            raise _TransferError(tr("truncated download: got {received:,} of {expected:,} bytes", received=received,
                                    expected=expected_len))
        if spec.members:  # copies of this zip differ in their bytes: check what is inside
            problem = mismatch(spec, tmp)
        else:
            actual = digest.hexdigest()
            problem = None if actual == spec.md5 else tr("expected md5 {md5}, got {actual}", md5=spec.md5, actual=actual)
        if problem:
            raise _TransferError(tr("mismatch after download: {problem} ({received:,} bytes)", problem=problem,
                                    received=received))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data files are meant to be shared
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _sleep(seconds: float) -> None:  # separate so that tests can skip the waiting
    time.sleep(seconds)


def download_file(key: str, *, retries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
                  progress: bool = True) -> Path:
    """Download ``key`` from its URL into the data folder (replacing any existing copy).

    Attempts ``1 + retries`` times, waiting ``backoff * 2**attempt`` seconds between attempts;
    retries on connection errors, timeouts, HTTP 5xx/429, truncated transfers and md5 mismatches.
    HTTP 4xx errors (other than 429) fail at once. Raises :class:`DataError` when all attempts fail.
    """
    spec = remote_file(key)
    target = local_path(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(_missing_message(spec, target, tr("cannot create {folder}: {err}", folder=target.parent,
                                                          err=err))) from err
    if not is_writable(target.parent):
        raise DataError(_missing_message(spec, target, tr("{folder} is read-only", folder=target.parent)))
    failures: list[str] = []
    for attempt in range(retries + 1):
        try:
            _fetch_once(spec, target, timeout, progress)
            return target
        except urllib.error.HTTPError as err:
            failures.append(tr("attempt {n}: HTTP {code} {reason}", n=attempt + 1, code=err.code, reason=err.reason))
            if 400 <= err.code < 500 and err.code != 429:
                break
        except (_TransferError, urllib.error.URLError, http.client.HTTPException, ConnectionError,
                TimeoutError) as err:
            failures.append(tr("attempt {n}: {err}", n=attempt + 1, err=err))
        if attempt < retries:
            _sleep(backoff * 2**attempt)
    details = "\n    ".join(failures)
    raise DataError(tr(
        "Could not download data file {key} from {url}.\n"
        "    {details}\n"
        "  expected md5: {md5}\n"
        "  fix: check the internet connection and run `{fix}` again, or download "
        "the URL by hand to {target} (or set COURSE_DATA_DIR to a folder that already holds it).",
        key=spec.key, url=spec.url, details=details, md5=spec.md5, fix=fix_command(spec.key), target=target,
    ))
