"""Download, verification and error messages of course_lib.data.fetch (no network: urlopen is faked)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import urllib.error
import zipfile
from pathlib import Path

import pytest

from course_lib.data import fetch
from course_lib.data.catalog import DataError, RemoteFile

PAYLOAD = b"omniglot-bytes-" * 1000
KEY = "fixture/file.bin"


class FakeResponse(io.BytesIO):
    """Stands in for the object urllib.request.urlopen returns."""

    def __init__(self, body: bytes, length: int | None = None):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if length is None else length)}


@pytest.fixture
def datadir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.setitem(
        fetch.FILES, KEY,
        RemoteFile(KEY, "https://example.org/file.bin", hashlib.md5(PAYLOAD).hexdigest(), len(PAYLOAD)),
    )
    monkeypatch.setattr(fetch, "_sleep", lambda seconds: None)
    return folder


def serve(monkeypatch, responses):
    """Make urlopen return (or raise) the given items in turn; returns the list of calls."""
    calls = []
    queue = list(responses)

    def fake_open(url, timeout):
        calls.append(url)
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    monkeypatch.setattr(fetch, "_open", fake_open)
    return calls


def test_known_files_have_urls_and_md5s():
    for key, spec in fetch.FILES.items():
        assert spec.key == key == spec.relpath
        assert spec.url.startswith("https://")
        assert re.fullmatch(r"[0-9a-f]{32}", spec.md5), f"{key}: md5 {spec.md5!r} is not 32 lowercase hex digits"
    assert fetch.FILES["omniglot/images_background.zip"].md5 == "68d2efa1b9178cc56df9314c21c6e718"
    assert fetch.FILES["omniglot/images_evaluation.zip"].md5 == "6b91aef0f799c5bb55b94e3f2daec811"


def test_download_then_verified_reuse(datadir, monkeypatch):
    calls = serve(monkeypatch, [FakeResponse(PAYLOAD)])
    path = fetch.ensure_file(KEY)
    assert path == datadir / KEY and path.read_bytes() == PAYLOAD
    assert fetch.ensure_file(KEY) == path  # second call: no download
    assert len(calls) == 1
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]  # no temp files left


def test_retries_after_network_errors_with_backoff(datadir, monkeypatch):
    waits = []
    monkeypatch.setattr(fetch, "_sleep", waits.append)
    calls = serve(monkeypatch, [urllib.error.URLError("reset"), TimeoutError("slow"), FakeResponse(PAYLOAD)])
    path = fetch.download_file(KEY, retries=3, backoff=0.5, progress=False)
    assert path.read_bytes() == PAYLOAD and len(calls) == 3
    assert waits == [0.5, 1.0]


def test_truncated_download_is_retried_and_never_left_in_place(datadir, monkeypatch):
    short = FakeResponse(PAYLOAD[:100], length=len(PAYLOAD))
    serve(monkeypatch, [short, FakeResponse(PAYLOAD[:100], length=len(PAYLOAD))])
    with pytest.raises(DataError) as info:
        fetch.download_file(KEY, retries=1, progress=False)
    message = str(info.value)
    assert "truncated" in message and KEY in message and fetch.fix_command(KEY) in message
    assert fetch.FILES[KEY].md5 in message
    assert not (datadir / KEY).exists()
    assert list((datadir / "fixture").iterdir()) == []  # the partial temp file was removed


def test_tampered_download_names_both_md5s(datadir, monkeypatch):
    bad = PAYLOAD[:-1] + b"X"
    serve(monkeypatch, [FakeResponse(bad), FakeResponse(bad)])
    with pytest.raises(DataError) as info:
        fetch.download_file(KEY, retries=1, progress=False)
    assert hashlib.md5(bad).hexdigest() in str(info.value)
    assert not (datadir / KEY).exists()


def test_http_404_is_not_retried(datadir, monkeypatch):
    calls = serve(monkeypatch, [urllib.error.HTTPError("u", 404, "Not Found", {}, None)] * 3)
    with pytest.raises(DataError, match="HTTP 404"):
        fetch.download_file(KEY, retries=2, progress=False)
    assert len(calls) == 1


def test_interrupted_download_keeps_previous_file(datadir, monkeypatch):
    target = datadir / KEY
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD)

    class Exploding(FakeResponse):
        def read(self, size=-1):
            raise KeyboardInterrupt

    serve(monkeypatch, [Exploding(PAYLOAD)])
    with pytest.raises(KeyboardInterrupt):
        fetch.download_file(KEY, progress=False)
    assert target.read_bytes() == PAYLOAD  # atomic: the old complete copy is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_corrupt_local_file_is_reported_not_overwritten(datadir, monkeypatch):
    target = datadir / KEY
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD[:500])  # truncated copy
    calls = serve(monkeypatch, [])
    with pytest.raises(DataError) as info:
        fetch.ensure_file(KEY)
    message = str(info.value)
    assert "corrupt" in message and "truncated" in message
    assert fetch.FILES[KEY].md5 in message and hashlib.md5(PAYLOAD[:500]).hexdigest() in message
    assert f"python -m course_lib data --download {KEY}" in message
    assert calls == [] and target.read_bytes() == PAYLOAD[:500]


def test_missing_without_download(datadir):
    with pytest.raises(DataError) as info:
        fetch.ensure_file(KEY, download=False)
    message = str(info.value)
    assert "missing" in message and "https://example.org/file.bin" in message
    assert fetch.fix_command(KEY) in message


def test_read_only_mirror_says_so(datadir, monkeypatch):
    datadir.mkdir()
    os.chmod(datadir, 0o555)
    try:
        calls = serve(monkeypatch, [FakeResponse(PAYLOAD)])
        with pytest.raises(DataError, match="read-only"):
            fetch.ensure_file(KEY)
        assert calls == []
    finally:
        os.chmod(datadir, 0o755)


def test_missing_in_read_only_folder_is_explained(datadir, monkeypatch):
    monkeypatch.setattr(fetch, "is_writable", lambda folder: False)
    calls = serve(monkeypatch, [FakeResponse(PAYLOAD)])
    with pytest.raises(DataError) as info:
        fetch.ensure_file(KEY)
    message = str(info.value)
    assert "read-only" in message and "COURSE_DATA_DIR" in message and fetch.fix_command(KEY) in message
    assert calls == []


def test_is_writable_walks_up_to_an_existing_folder(tmp_path):
    assert fetch.is_writable(tmp_path / "not" / "yet" / "there")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert not fetch.is_writable(blocker / "below")


def test_file_status_reports_each_state(datadir, monkeypatch):
    other = "fixture/other.bin"
    monkeypatch.setitem(fetch.FILES, other, RemoteFile(other, "https://example.org/o", "0" * 32))
    (datadir / "fixture").mkdir(parents=True)
    (datadir / KEY).write_bytes(PAYLOAD)
    rows = {row["key"]: row for row in fetch.file_status([KEY, other])}
    assert rows[KEY]["status"] == "ok" and rows[KEY]["fix"] == ""
    assert rows[other]["status"] == "missing"
    (datadir / other).write_bytes(b"junk")
    row = fetch.file_status([other])[0]
    assert row["status"] == "corrupt" and row["actual_md5"] == hashlib.md5(b"junk").hexdigest()
    assert row["fix"] == fetch.fix_command(other)


def test_unknown_key_lists_known_files():
    with pytest.raises(KeyError, match="omniglot/all_runs.zip"):
        fetch.ensure_file("omniglot/nope.zip")


@pytest.mark.parametrize(
    "data, digest",  # the test suite of RFC 1321 (the md5 specification)
    [
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    ],
)
def test_md5sum_of_known_bytes(tmp_path, data, digest):
    file = Path(tmp_path) / "x"
    file.write_bytes(data)
    assert fetch.md5sum(file) == digest


def test_md5sum_reads_files_larger_than_one_chunk(tmp_path):
    data = PAYLOAD * 100  # 1.5 MB: more than one 1 MiB read
    file = Path(tmp_path) / "x"
    file.write_bytes(data)
    assert fetch.md5sum(file) == hashlib.md5(data).hexdigest()


def _zip_bytes(members: dict[str, bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"top/{name}", data)
        archive.comment = comment
    return buffer.getvalue()


def test_a_zip_checked_by_its_members_accepts_other_copies_and_rejects_other_contents(datadir, monkeypatch):
    members = {"a.csv": b"1,2\n", "b.csv": b"3,4\n"}
    one_copy = _zip_bytes(members)
    monkeypatch.setitem(fetch.FILES, KEY, RemoteFile(
        KEY, "https://example.org/file.zip", hashlib.md5(one_copy).hexdigest(), len(one_copy),
        members=tuple((name, hashlib.md5(data).hexdigest()) for name, data in members.items())))
    other_copy = _zip_bytes(members, comment=b"repacked")  # different bytes, same members
    assert hashlib.md5(other_copy).hexdigest() != fetch.FILES[KEY].md5
    serve(monkeypatch, [FakeResponse(other_copy)])
    path = fetch.ensure_file(KEY)
    assert fetch.ensure_file(KEY, download=False) == path and fetch.file_status([KEY])[0]["status"] == "ok"
    path.unlink()
    tampered = _zip_bytes({**members, "b.csv": b"3,5\n"})
    serve(monkeypatch, [FakeResponse(tampered), FakeResponse(tampered)])
    with pytest.raises(DataError, match=r"b.csv has md5 [0-9a-f]{32}, expected"):
        fetch.download_file(KEY, retries=1)
    assert not path.exists()
    path.write_bytes(tampered)
    with pytest.raises(DataError, match=r"(?s)corrupt.*found: b.csv has md5"):
        fetch.ensure_file(KEY)
    assert fetch.file_status([KEY])[0]["status"] == "corrupt"
