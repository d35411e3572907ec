"""--file PATH: every way a file can be wrong gets a one-line GRUError that says how."""

from __future__ import annotations

import os

import pytest

from gru_core import GRUError, textfile
from gru_core.cli import config_from_args, make_parser
from gru_core.textfile import read_text_file


def write(tmp_path, data: bytes, name: str = "t.txt") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_reads_utf8_text_with_non_ascii_characters(tmp_path):
    path = write(tmp_path, "naïve café — 日本\nline two\n".encode())
    assert read_text_file(path) == "naïve café — 日本\nline two\n"


def test_crlf_becomes_lf_and_a_bom_is_dropped(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfone\r\ntwo\r\nthree\rfour")
    assert read_text_file(path) == "one\ntwo\nthree\rfour"


def test_crs_before_an_lf_leave_no_crlf_behind(tmp_path):
    """CR CR LF (a file converted to CRLF twice): one replace of CRLF left a CRLF."""
    path = write(tmp_path, b"one\r\r\ntwo\r\r\r\nthree\r")
    assert read_text_file(path) == "one\ntwo\nthree\r"


def test_missing_file_names_the_path(tmp_path):
    path = str(tmp_path / "nope.txt")
    with pytest.raises(GRUError, match=r"no file at .*nope\.txt"):
        read_text_file(path)


def test_directory_is_refused(tmp_path):
    with pytest.raises(GRUError, match="is a directory"):
        read_text_file(str(tmp_path))


def test_empty_file_is_refused(tmp_path):
    with pytest.raises(GRUError, match="is empty"):
        read_text_file(write(tmp_path, b""))


def test_a_bom_alone_is_empty_too(tmp_path):
    with pytest.raises(GRUError, match="is empty"):
        read_text_file(write(tmp_path, b"\xef\xbb\xbf"))


def test_invalid_utf8_names_the_byte_offset_and_line(tmp_path):
    data = b"ok line\nsecond " + b"caf\xe9 au lait\n"  # Latin-1 e-acute
    path = write(tmp_path, data)
    with pytest.raises(GRUError) as info:
        read_text_file(path)
    message = str(info.value)
    offset = data.index(b"\xe9")
    assert offset == 18
    assert "not valid UTF-8" in message
    assert f"byte offset {offset} " in message
    assert "line 2" in message
    assert "0xe9" in message


def test_binary_file_with_nul_bytes_is_refused(tmp_path):
    path = write(tmp_path, b"PK\x03\x04\x00\x00binary")
    with pytest.raises(GRUError, match="NUL byte at byte offset 4"):
        read_text_file(path)


def test_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    path = write(tmp_path, b"x" * 101)

    def no_open(*args, **kwargs):
        raise AssertionError("a file over the limit must not be opened")

    monkeypatch.setattr(textfile, "open", no_open, raising=False)
    with pytest.raises(GRUError, match=r"101 bytes; the limit is 100 bytes"):
        read_text_file(path, max_bytes=100)


def test_the_documented_limit_is_checked_by_size_not_by_loading(tmp_path):
    # A sparse file just over the real limit: stat says its size, nothing is read.
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(textfile.MAX_TEXT_BYTES + 1)
    with pytest.raises(GRUError, match=r"256\.0 MiB; the limit is 256\.0 MiB"):
        read_text_file(str(path))


def test_too_many_characters_after_decoding(tmp_path):
    path = write(tmp_path, "é".encode() * 11)
    with pytest.raises(GRUError, match="11 characters; the limit is 10"):
        read_text_file(path, max_chars=10)


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, b"secret")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(textfile, "open", denied, raising=False)
    with pytest.raises(GRUError, match="permission denied"):
        read_text_file(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_by_mode(tmp_path):
    path = write(tmp_path, b"secret")
    os.chmod(path, 0)
    try:
        with pytest.raises(GRUError, match="permission denied"):
            read_text_file(path)
    finally:
        os.chmod(path, 0o600)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    with pytest.raises(GRUError, match="not a regular file"):
        read_text_file(str(path))


def test_cli_file_flag_reads_the_file_and_says_where_it_came_from(tmp_path):
    path = write(tmp_path, b"hello hello hello hello\r\n")
    config = config_from_args(make_parser().parse_args(["--file", path]))
    assert config.text == "hello hello hello hello\n"
    assert config.source == f"file:{path}"


def test_cli_file_flag_error_is_a_gruerror(tmp_path):
    with pytest.raises(GRUError, match="is a directory"):
        config_from_args(make_parser().parse_args(["--file", str(tmp_path)]))
