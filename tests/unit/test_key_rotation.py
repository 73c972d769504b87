"""Rotating the email-hash key: records name the key that hashed them; a signer who
signed under a key used before the rotation is still one signer, whether their new
submission is read at home or sent home, and the recount agrees."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.codec import AvroCodec
from streams.audit.recount import Recount, confirmation_times
from streams.core.logscan import LogRecord
from streams.rules.email import email_hash, normalize_email
from streams.rules.keys import DedupeKey, submission_key_for
from streams.rules.ledger import DedupeLedger
from streams.rules.outputs import Output, Route
from streams.rules.petitions import Confirmation, PetitionWindow
from streams.rules.placement import home_partition
from streams.rules.stages import validate_record
from streams.rules.verdict import SourcePosition, judge
from tests.unit.submissions import submission_at

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PETITIONS = {"open": PetitionWindow("open", datetime(2026, 1, 1, tzinfo=UTC), None)}
PARTITIONS = 6
OLD, NEW = ("k1", b"the-key-before-the-rotation"), ("k2", b"the-key-after-the-rotation")
ACCEPTED = AvroCodec("SignatureAccepted")


def submission(email: str, n: int) -> tuple[bytes, bytes]:
    return submission_at(NOW, email, signature_id=f"sig-{n}")


def run(
    ledger: DedupeLedger, partition: int, offset: int, key: bytes, value: bytes, *, rotated: bool
) -> list[Output]:
    current, previous = (NEW, [OLD]) if rotated else (OLD, [])

    def judged(k: bytes | None, v: bytes | None, at: SourcePosition):  # type: ignore[no-untyped-def]
        return judge(
            v, k, at, petitions=PETITIONS, now=NOW, hash_key=current[1],
            hash_key_id=current[0], previous_keys=previous,
        )  # fmt: skip

    at = SourcePosition("signatures.submitted", partition, offset)
    return list(
        validate_record(
            at, key, value, judge=judged, ledger=ledger, partitions=PARTITIONS, now=lambda: NOW
        )
    )


HOME = home_partition(submission_key_for("open", "a@example.org"), PARTITIONS)


def test_an_accepted_record_names_the_key_that_hashed_it() -> None:
    [accepted] = run(DedupeLedger({}), HOME, 1, *submission("a@example.org", 1), rotated=False)
    assert ACCEPTED.decode(accepted.value)["email_hash_key_id"] == "k1"


def test_a_signer_from_before_the_rotation_is_a_duplicate_after_it() -> None:
    ledger = DedupeLedger({})
    run(ledger, HOME, 1, *submission("a@example.org", 1), rotated=False)
    [again] = run(ledger, HOME, 2, *submission("A@example.org", 2), rotated=True)
    assert (again.route, again.verdict) == (Route.DUPLICATES, "duplicate")
    assert ledger.partial.total() == 1


def test_a_winner_replayed_after_the_rotation_keeps_its_first_hash() -> None:
    ledger = DedupeLedger({})
    [first] = run(ledger, HOME, 1, *submission("a@example.org", 1), rotated=False)
    [replayed] = run(ledger, HOME, 1, *submission("a@example.org", 1), rotated=True)
    assert replayed.verdict == "replayed"
    assert replayed.key == first.key  # one signer downstream: the same dedupe key
    record = ACCEPTED.decode(replayed.value)
    assert (record["email_hash"], record["email_hash_key_id"]) == (
        ACCEPTED.decode(first.value)["email_hash"],
        "k1",
    )


def test_a_signer_from_before_the_rotation_sent_home_is_a_duplicate_there() -> None:
    ledger = DedupeLedger({})
    run(ledger, HOME, 1, *submission("a@example.org", 1), rotated=False)
    [sent] = run(ledger, (HOME + 1) % PARTITIONS, 5, *submission("a@example.org", 2), rotated=True)
    assert sent.route is Route.VALID
    at = SourcePosition("signatures.valid", HOME, 0)
    [settled] = ledger.settle_sent_home(sent.key, sent.value, sent.headers, at, NOW)
    assert settled.verdict == "duplicate"


def test_the_recount_knows_the_signer_across_the_rotation() -> None:
    before = [LogRecord(HOME, 1, NOW.timestamp(), *submission("a@example.org", 1))]
    after = [LogRecord(HOME, 2, NOW.timestamp(), *submission("a@example.org", 2))]
    recount = Recount.of(before, PETITIONS, OLD[1], "signatures.submitted")
    rotated = Recount(PETITIONS, NEW[1], "signatures.submitted", previous_keys=[OLD])
    rotated.winners = dict(recount.winners)
    for record in after:
        rotated.add(record)
    assert sum(rotated.counts().values()) == 1
    assert sum(rotated.rejected.values()) == 1


def test_the_recount_finds_a_confirmation_made_under_the_key_before_the_rotation() -> None:
    windows = {
        "open": PetitionWindow("open", datetime(2026, 1, 1, tzinfo=UTC), None, Confirmation.EMAIL)
    }
    old_key = DedupeKey("open", email_hash(normalize_email("a@example.org"), OLD[1]))
    confirmed = AvroCodec("SignatureConfirmed").encode(
        {"petition_id": "open", "email_hash": old_key.email_hash, "signature_id": "s",
         "confirmed_at": NOW, "source": "link"}
    )  # fmt: skip
    times = confirmation_times([LogRecord(HOME, 0, NOW.timestamp(), old_key.encode(), confirmed)])
    signed = [LogRecord(HOME, 1, NOW.timestamp(), *submission("a@example.org", 1))]
    recount = Recount.of(
        signed, windows, NEW[1], "signatures.submitted", confirmations=times, previous_keys=[OLD]
    )
    assert (sum(recount.counts().values()), sum(recount.pending().values())) == (1, 0)
