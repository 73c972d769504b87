"""The petitions' public logs as a reader of their topics sees them: what the
end-to-end test and the benchmark check against the truth (docs/transparency.md)."""

from __future__ import annotations

from collections import Counter

from schemas.codec import codec
from streams.core.logscan import scan, whole_log
from streams.core.settings import Settings
from streams.core.topicspecs import LOG_HEADS, LOG_LEAVES
from streams.rules.signed_note import Checkpoint, Verifier, open_note

#: Per petition: its leaves in order, and its signed heads.
Logs = tuple[dict[str, list[bytes]], dict[str, list[Checkpoint]]]


def read_public_logs(settings: Settings, verifier: Verifier) -> Logs:
    """Every petition's committed leaves, in order and without a gap, and its signed
    heads, each checked against ``verifier``."""
    leaf_codec, head_codec = codec("LogLeaf"), codec("LogHead")
    leaves: dict[str, list[bytes]] = {}
    for record in scan(settings, whole_log(settings, LOG_LEAVES.name)):
        leaf = leaf_codec.decode(record.value)
        petition = leaves.setdefault(leaf["petition_id"], [])
        assert leaf["leaf_index"] == len(petition), "a petition's leaves are in order, no gap"
        petition.append(leaf["leaf"])
    heads: dict[str, list[Checkpoint]] = {}
    for record in scan(settings, whole_log(settings, LOG_HEADS.name)):
        head = head_codec.decode(record.value)
        checkpoint = Checkpoint.parse(open_note(head["note"], verifier))
        assert checkpoint.size == head["tree_size"]
        heads.setdefault(head["petition_id"], []).append(checkpoint)
    return leaves, heads


def totals_per_petition(counts: Counter[tuple[str, str, str]]) -> dict[str, int]:
    """The truth's total of each petition, from its (petition, region, country) counts."""
    totals: Counter[str] = Counter()
    for (petition, _, _), n in counts.items():
        totals[petition] += n
    return {petition: n for petition, n in totals.items() if n}
