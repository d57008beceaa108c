"""Kalshi signing: the message, RSA-PSS round trip, key loading errors, nothing leaked."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pmtape.core.errors import ConfigError
from pmtape.venues.kalshi.auth import (
    KalshiSigner,
    load_private_key,
    load_public_key,
    signing_message,
    verify,
)
from pmtape.venues.kalshi.constants import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP
from tests.venues.kalshi.util import KEY_ID, throwaway_key


def test_the_signed_message_is_timestamp_method_and_path_without_query() -> None:
    assert signing_message(1790501234567, "get", "/trade-api/v2/markets?limit=5") == (
        b"1790501234567GET/trade-api/v2/markets"
    )


def test_headers_carry_a_pss_signature_the_public_key_verifies(tmp_path: Path) -> None:
    path, public = throwaway_key(tmp_path)
    signer = KalshiSigner.from_files(KEY_ID, path)
    headers = signer.headers("GET", "wss://host.example/trade-api/ws/v2", ts_ms=1790501234567)
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1790501234567"
    message = b"1790501234567GET/trade-api/ws/v2"
    assert verify(public, message, headers[HEADER_SIGNATURE])
    assert not verify(public, b"1790501234568GET/trade-api/ws/v2", headers[HEADER_SIGNATURE])
    assert len(base64.b64decode(headers[HEADER_SIGNATURE])) == 256  # 2048-bit key
    # PSS is randomized: two signatures of one message differ and both verify.
    again = signer.headers("GET", "/trade-api/ws/v2", ts_ms=1790501234567)[HEADER_SIGNATURE]
    assert again != headers[HEADER_SIGNATURE]
    assert verify(public, message, again)


def test_another_key_does_not_verify(tmp_path: Path) -> None:
    path, _ = throwaway_key(tmp_path, "a.pem")
    _, other_public = throwaway_key(tmp_path, "b.pem")
    sig = KalshiSigner.from_files(KEY_ID, path).sign(b"1GET/trade-api/ws/v2")
    assert not verify(other_public, b"1GET/trade-api/ws/v2", sig)
    assert not verify(other_public, b"1GET/trade-api/ws/v2", "not base64!")


def test_the_signer_shows_neither_key_id_nor_key(tmp_path: Path) -> None:
    path, _ = throwaway_key(tmp_path)
    signer = KalshiSigner.from_files(KEY_ID, path)
    assert KEY_ID not in repr(signer)
    assert "PRIVATE" not in repr(signer)
    assert (path.stat().st_mode & 0o777) == 0o600


def test_key_file_problems_are_one_line_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="not an unencrypted PEM") as info:
        load_private_key(junk)
    assert "not a key" not in str(info.value)  # the file's content is never echoed
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_public_key(junk)
    path, _ = throwaway_key(tmp_path)
    with pytest.raises(ConfigError, match="api_key_id is empty"):
        KalshiSigner.from_files("", path)
