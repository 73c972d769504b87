"""Signed tree heads as C2SP checkpoints in Ed25519 signed notes (c2sp.org/signed-note,
c2sp.org/tlog-checkpoint): the text form Go's sumdb, Sigstore and the public witness
network already read, so a petition's log heads can be checked by tools that know
nothing of Countersign (issue 29).

A note is text (lines that each end in a newline), a blank line, and signature lines
``— <key name> <base64(key hash || Ed25519 signature over the text)>``; the key hash
is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key). A checkpoint's
text is the log's origin, its size, the base64 root (streams.rules.merkle) and
optional extension lines. Keys are written as the Go note package writes them:
``name+hash+base64(0x01 || key)``, the private one prefixed ``PRIVATE+KEY+``.
Checked against the Go package's own example (tests/unit/test_signed_note.py).

Pure: text and bytes in and out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from streams.core.errors import CountersignError

ED25519 = b"\x01"
DASH = "\u2014 "  # an em dash and a space open each signature line
PRIVATE = "PRIVATE+KEY+"


class NoteError(CountersignError, ValueError):
    """A note, a key or a checkpoint that does not parse or does not verify."""


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise NoteError(f"{what} is not base64") from None


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: bytes

    @property
    def hash(self) -> bytes:
        return key_hash(self.name, self.public_key)

    def encode(self) -> str:
        """``name+hash+key``: what the README and /api/keys publish."""
        key = base64.b64encode(ED25519 + self.public_key).decode()
        return f"{self.name}+{self.hash.hex()}+{key}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        name, hash_hex, key = _fields(text, "verifier key")
        raw = _decode(key, "the verifier key")
        if raw[:1] != ED25519 or len(raw) != 33:
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls(name, raw[1:])
        if verifier.hash.hex() != hash_hex:
            raise NoteError("the verifier key's hash does not match its name and key")
        return verifier


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes  # the 32-byte Ed25519 private key

    @property
    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, public.public_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> Signer:
        if not text.startswith(PRIVATE):
            raise NoteError(f"a signer key starts with {PRIVATE}")
        name, hash_hex, key = _fields(text.removeprefix(PRIVATE), "signer key")
        raw = _decode(key, "the signer key")
        if raw[:1] != ED25519 or len(raw) != 33:
            raise NoteError("the signer key is not an Ed25519 key")
        signer = cls(name, raw[1:])
        if signer.verifier.hash.hex() != hash_hex:
            raise NoteError("the signer key's hash does not match its name and key")
        return signer

    def encode(self) -> str:
        """``PRIVATE+KEY+name+hash+key``, as ``parse`` reads it (a secret)."""
        key = base64.b64encode(ED25519 + self.seed).decode()
        return f"{PRIVATE}{self.name}+{self.verifier.hash.hex()}+{key}"

    def sign(self, text: str) -> str:
        """The signed note of ``text`` (non-empty lines, each ending in a newline)."""
        _check_text(text)
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        blob = base64.b64encode(self.verifier.hash + signature).decode()
        return f"{text}\n{DASH}{self.name} {blob}\n"


def _fields(text: str, what: str) -> tuple[str, str, str]:
    parts = text.split("+", 2)
    if len(parts) != 3 or not parts[0] or len(parts[1]) != 8:
        raise NoteError(f"a {what} is name+hash+key")
    return parts[0], parts[1], parts[2]


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise NoteError("a note's text is non-empty lines, each ending in a newline")


def open_note(note: str, verifier: Verifier) -> str:
    """The text of ``note`` once ``verifier``'s signature on it checks, else NoteError."""
    text, blank, signatures = note.rpartition("\n\n")
    if not blank or not signatures.endswith("\n"):
        raise NoteError("a note is text, a blank line and signature lines")
    text += "\n"
    _check_text(text)
    for line in signatures.removesuffix("\n").split("\n"):
        if not line.startswith(DASH):
            raise NoteError(f"not a signature line: {line[:40]!r}")
        name, _, blob = line.removeprefix(DASH).partition(" ")
        raw = _decode(blob, "a signature")
        if name != verifier.name or raw[:4] != verifier.hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"{name}'s signature does not match the note") from None
        return text
    raise NoteError(f"the note has no signature by {verifier.name}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        _check_text(text)
        lines = text.removesuffix("\n").split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has an origin, a size and a root, a line each")
        origin, size, root, *extensions = lines
        if not size.isdigit() or (size.startswith("0") and size != "0"):
            raise NoteError(f"a checkpoint's size is a decimal number, not {size!r}")
        digest = _decode(root, "the checkpoint's root")
        if len(digest) != 32:
            raise NoteError("a checkpoint's root is a SHA-256 hash")
        return cls(origin, int(size), digest, tuple(extensions))
