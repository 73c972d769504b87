"""The validate and dedupe stages on records, without Faust or Kafka: what each record
of signatures.submitted or signatures.valid makes the worker send, in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.batch import encode_batch
from schemas.codec import AvroCodec
from streams.rules.dedupe import WINNER_HEADER
from streams.rules.keys import submission_key_for
from streams.rules.ledger import DedupeLedger
from streams.rules.outputs import Output, Route
from streams.rules.petitions import PetitionWindow
from streams.rules.placement import home_partition
from streams.rules.stages import validate_record
from streams.rules.verdict import Accepted, Rejected, SourcePosition, judge
from tests.unit.submissions import submission_at

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PETITIONS = {"open": PetitionWindow("open", datetime(2026, 1, 1, tzinfo=UTC), None)}
PARTITIONS = 6
REJECTED = AvroCodec("SignatureRejected")


def submission(email: str, **changes: Any) -> tuple[bytes, bytes]:
    """(key, value) of one submission, keyed as our producers key it."""
    return submission_at(NOW, email, **changes)


def home_of(email: str) -> int:
    return home_partition(submission_key_for("open", email), PARTITIONS)


def judge_at(key: bytes | None, value: bytes | None, at: SourcePosition) -> Accepted | Rejected:
    return judge(value, key, at, petitions=PETITIONS, now=NOW, hash_key=b"k")


def run(
    ledger: DedupeLedger, partition: int, offset: int, key: bytes | None, value: bytes
) -> list[Output]:
    at = SourcePosition("signatures.submitted", partition, offset)
    return list(
        validate_record(
            at,
            key,
            value,
            judge=judge_at,
            ledger=ledger,
            partitions=PARTITIONS,
            now=lambda: NOW,
        )
    )


def test_a_new_signature_read_at_home_is_accepted_and_counted() -> None:
    ledger = DedupeLedger({})
    [output] = run(ledger, home_of("a@example.org"), 7, *submission("a@example.org"))
    assert (output.route, output.verdict) == (Route.ACCEPTED, "accepted")
    assert ledger.partial.total() == 1


def test_a_signature_read_away_from_home_is_sent_home_with_its_candidate() -> None:
    ledger = DedupeLedger({})
    away = (home_of("a@example.org") + 1) % PARTITIONS
    [output] = run(ledger, away, 7, *submission("a@example.org"))
    assert output.route is Route.VALID
    assert output.partition == home_of("a@example.org")
    assert output.headers is not None and output.headers[0][0] == WINNER_HEADER
    assert ledger.partial.total() == 0  # counted where it is settled, not here


def test_the_same_record_delivered_again_is_forwarded_not_counted_again() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    first = run(ledger, home, 7, *submission("a@example.org"))
    again = run(ledger, home, 7, *submission("a@example.org"))
    assert [o.verdict for o in first + again] == ["accepted", "replayed"]
    assert again[0].value == first[0].value
    assert ledger.partial.total() == 1


def test_a_batch_gives_one_output_per_submission_in_order() -> None:
    emails = ["a@example.org", "b@example.org", "A@Example.org", "nobody"]
    home = home_of("a@example.org")
    batch = encode_batch([submission(e) for e in emails])
    outputs = run(DedupeLedger({}), home, 7, None, batch)
    assert len(outputs) == len(emails)
    assert outputs[2].route is Route.DUPLICATES  # a@ again, another spelling
    assert REJECTED.decode(outputs[2].value)["source_index"] == 2
    assert REJECTED.decode(outputs[3].value)["reason"] == "invalid_email"
    assert REJECTED.decode(outputs[3].value)["source_index"] == 3


def test_a_batch_delivered_again_replays_its_winners_and_repeats_its_duplicates() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    batch = encode_batch([submission("a@example.org"), submission("a@example.org")])
    first = run(ledger, home, 7, None, batch)
    again = run(ledger, home, 7, None, batch)
    assert [o.verdict for o in first] == ["accepted", "duplicate"]
    assert [o.verdict for o in again] == ["replayed", "duplicate"]
    assert ledger.partial.total() == 1


def test_an_unreadable_batch_is_one_dead_letter() -> None:
    batch = encode_batch([submission("a@example.org")])
    [output] = run(DedupeLedger({}), 0, 7, b"open/001", batch[:-3])
    record = REJECTED.decode(output.value)
    assert (output.route, record["reason"], record["petition_id"]) == (
        Route.REJECTED,
        "malformed",
        "open",
    )
    assert record["original"] == batch[:10]  # its header only: the emails stay in the log


def test_a_signature_sent_home_is_settled_there_from_its_header() -> None:
    ledger = DedupeLedger({})
    home = home_of("a@example.org")
    [sent] = run(ledger, (home + 1) % PARTITIONS, 7, *submission("a@example.org"))
    at = SourcePosition("signatures.valid", home, 0)
    [settled] = ledger.settle_sent_home(sent.key, sent.value, sent.headers, at, NOW)
    assert (settled.route, settled.verdict, settled.partition) == (Route.ACCEPTED, "accepted", home)
    assert ledger.partial.counted == {("open", home): {"SY": 1}}


def test_an_unreadable_record_sent_home_is_a_dead_letter() -> None:
    at = SourcePosition("signatures.valid", 0, 0)
    [output] = DedupeLedger({}).settle_sent_home(b"open:zz", b"junk", None, at, NOW)
    assert (output.route, output.verdict) == (Route.REJECTED, "malformed")
