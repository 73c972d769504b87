"""The one exception tree of Countersign.

Every error we raise on purpose is a ``CountersignError``, so callers can catch ours
without catching everything. Each leaf also subclasses the stdlib error it resembles
(``ValueError`` for bad data, ``LookupError`` for a missing thing, ...) so code that
knows nothing of Countersign still handles it sensibly.
"""

from __future__ import annotations


class CountersignError(Exception):
    """Root of every error Countersign raises on purpose."""


class ConfigurationError(CountersignError, ValueError):
    """Settings that cannot run, e.g. the development HMAC key in production."""


class MalformedMessage(CountersignError, ValueError):
    """Bytes that are not a single-object-encoded Avro message we can read.

    The validate agent turns any of these into a ``malformed`` rejection; ``detail``
    is the human-readable why that goes into the dead letter.
    """

    reason = "malformed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadMarker(MalformedMessage):
    """The first two bytes are not the single-object marker ``C3 01``."""


class TruncatedMessage(MalformedMessage, EOFError):
    """The message ends before its header or its body is complete."""


class UnknownFingerprint(MalformedMessage, LookupError):
    """The writer's schema fingerprint is not one of the schemas we ship."""

    def __init__(self, fingerprint: bytes) -> None:
        super().__init__(f"unknown writer schema fingerprint {fingerprint.hex()}")
        self.fingerprint = fingerprint


class UnparseableBody(MalformedMessage):
    """The header is fine but the body does not decode with the writer's schema."""


class IncompatibleSchema(MalformedMessage, TypeError):
    """The writer's schema cannot be resolved to the reader's (e.g. another record type)."""


class TopicError(CountersignError, RuntimeError):
    """Kafka refused to create or describe a topic."""


class KafkaUnavailable(CountersignError, ConnectionError):
    """No broker answered in time."""


class KafkaAuthenticationFailed(KafkaUnavailable, PermissionError):
    """A broker refused our TLS or SASL login (a wrong password, an unknown user)."""


class IntakeUnavailable(CountersignError, ConnectionError):
    """The HTTP intake did not answer (or does not know the petition)."""


class CatalogueError(CountersignError, ValueError):
    """A petition that cannot be added, found or closed."""


class StateDirectoryInUse(CountersignError, RuntimeError):
    """Another worker on this machine uses the same state directory (its RocksDB)."""


class StateFromAnotherCluster(CountersignError, RuntimeError):
    """The worker's state was built against another Kafka cluster than the one it
    reaches now: its tables would restore from changelogs that do not hold them."""


class ClickHouseLocked(CountersignError, RuntimeError):
    """The embedded ClickHouse directory is open in another process."""


class SinkUnavailable(CountersignError, ConnectionError):
    """ClickHouse did not take a batch; the sink backs off and retries.

    ``retry_after`` is the back-off before the next attempt, in seconds.
    """

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Backpressure(CountersignError, RuntimeError):
    """Not now: try again in ``retry_after`` seconds (HTTP 429/503 carry it as
    ``Retry-After``)."""

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class RateLimited(Backpressure):
    """A client sent more signatures than the configured rates allow."""


class ShuttingDown(Backpressure):
    """The intake began to stop while a request's body was still arriving: the rest
    of it will not be read (aiohttp drops a closing connection's data), so the client
    is told to send it again, to a running intake, at once rather than after the
    body timeout."""


class KafkaBusy(Backpressure, BufferError):
    """Kafka cannot take the event now: no broker is up, or the producer queue is full."""


class PublishFailed(CountersignError, ConnectionError):
    """Kafka did not acknowledge an event, even after retries.

    ``possibly_persisted`` is True when the broker may have written it before the
    connection broke: resending the same signature_id is then safe, because a
    retried submission is counted once.
    """

    def __init__(self, detail: str, *, possibly_persisted: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.possibly_persisted = possibly_persisted


class InvalidSignature(CountersignError, ValueError):
    """A submission that breaks a rule the edge can judge; ``errors`` maps each bad
    field to a message a signer can act on."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class CrossSiteRefused(CountersignError, PermissionError):
    """A browser post the intake cannot trust: sent from another site (Origin or
    Referer), or a form without a valid, unexpired token of the intake's own form."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ServeUnavailable(CountersignError, ConnectionError):
    """``countersign serve`` did not answer an audit tool (or refused its token)."""


class ExportInvalid(CountersignError, ValueError):
    """A file ``verify-export`` cannot read as a Countersign delivery list."""


class ChildFailed(CountersignError, RuntimeError):
    """A Countersign process started by another one exited or never became healthy."""


class LinkInvalid(CountersignError, ValueError):
    """A confirmation link that this deployment did not sign (mistyped, cut short by a
    mail program, or forged)."""


class LinkExpired(LinkInvalid):
    """A confirmation link older than ``confirmation_link_hours``."""


class MailFailed(CountersignError, ConnectionError):
    """The SMTP server did not take a mail (down, refused, or no answer)."""


class MailRefused(MailFailed):
    """The SMTP server refused a mail for good (a 5xx answer, a recipient it will not
    take, an address it cannot carry): trying again would not help."""


class MailInsecure(MailFailed):
    """The SMTP server would take the mailer's credentials in clear (no STARTTLS on
    ``smtp://``): nothing is sent until it offers TLS or ``smtps://`` is used."""


class SealBroken(CountersignError, ValueError):
    """Sealed personal data, or a wrapped data key, that does not open under the key
    and context given: tampered with, moved to another signature, or the wrong key."""


class KeyErased(CountersignError, LookupError):
    """The data key that sealed a signer's personal data is gone (erased, withdrawn or
    past retention): what it sealed can no longer be read, by design."""
