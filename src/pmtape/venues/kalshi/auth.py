"""Kalshi request signing (§2.2): RSA-PSS over ``timestamp + METHOD + path``, SHA-256.

The key id comes from the environment (``PMTAPE_VENUES__KALSHI__API_KEY_ID``), the private
key from a PEM file; neither is ever logged, printed or put in a capture. The signed path
starts at ``/trade-api/`` and carries no query string; the host is not signed.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pmtape.core.clock import now_ms
from pmtape.core.errors import ConfigError
from pmtape.venues.kalshi.constants import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(ts_ms: int, method: str, path: str) -> bytes:
    """Return the bytes Kalshi signs: ms timestamp, upper-case method, path without query."""
    return f"{ts_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """Read an unencrypted PEM RSA private key; a ConfigError names the file, not its bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the Kalshi private key ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path}: the Kalshi key must be an RSA key")
    return key


class KalshiSigner:
    """Signs requests with one API key; ``repr`` shows neither the key id nor the key."""

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey) -> None:
        self._key_id = key_id
        self._key = private_key

    def __repr__(self) -> str:
        return "KalshiSigner(<redacted>)"

    @classmethod
    def from_files(cls, key_id: str, private_key_path: Path) -> KalshiSigner:
        """Build a signer from a key id and a PEM file."""
        if not key_id:
            raise ConfigError("venues.kalshi.api_key_id is empty")
        return cls(key_id, load_private_key(private_key_path))

    def sign(self, message: bytes) -> str:
        """Return the base64 RSA-PSS signature of ``message``."""
        return base64.b64encode(self._key.sign(message, _PSS, hashes.SHA256())).decode()

    def headers(self, method: str, url_or_path: str, ts_ms: int | None = None) -> dict[str, str]:
        """Return the three ``KALSHI-ACCESS-*`` headers for one request."""
        ts = now_ms() if ts_ms is None else ts_ms
        path = urlsplit(url_or_path).path or "/"
        return {
            HEADER_KEY: self._key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: self.sign(signing_message(ts, method, path)),
        }


def verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """Return whether ``signature_b64`` is a valid signature of ``message`` (the fake's check)."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, _PSS, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_key_pair(path: Path) -> rsa.RSAPublicKey:
    """Write a throwaway 2048-bit private key to ``path`` (mode 0600); return its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key.public_key()


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """Read a PEM RSA public key (the fake's verification key)."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the public key ({exc.strerror})") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{path}: not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(f"{path}: not an RSA public key")
    return key
