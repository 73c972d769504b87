"""``countersign petitions add`` against the real broker: the flags and a file take
the same defaults, and ``--confirmation`` says whether signatures wait for a mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.catalogue.store import Petition, confirmation_of, read_catalogue
from streams.core.settings import Settings
from streams.core.topics import create_topics
from streams.rules.petitions import Confirmation
from streams.testing.processes import run_command


def added(settings: Settings, tmp_path: Path, *args: str) -> Petition:
    before = datetime.now(UTC)
    done = run_command(settings, ["petitions", "add", *args], tmp_path / "cli.log")
    catalogue = read_catalogue(settings)
    [petition] = catalogue.values()
    assert f"added petition {petition['petition_id']}" in done.stdout
    assert before - timedelta(seconds=1) <= petition["opens_at"] <= datetime.now(UTC)
    return petition


def test_a_petition_made_with_flags_asks_for_email_confirmation_by_default(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    petition = added(settings, tmp_path, "free-them", "--title", "Free them")
    assert confirmation_of(petition) is Confirmation.EMAIL


def test_confirmation_none_counts_signatures_without_mail(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    petition = added(
        settings, tmp_path, "open-letter", "--title", "Sign it", "--confirmation", "none"
    )
    assert confirmation_of(petition) is Confirmation.NONE


def test_a_file_may_leave_out_opens_at_and_the_flag_overrides_its_confirmation(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    file = tmp_path / "petition.json"
    file.write_text(json.dumps({"petition_id": "from-file", "title": "From a file"}))
    petition = added(settings, tmp_path, "--file", str(file), "--confirmation", "none")
    assert petition["title"] == "From a file"
    assert confirmation_of(petition) is Confirmation.NONE


def test_an_unknown_confirmation_is_refused_by_click(settings: Settings, tmp_path: Path) -> None:
    done = run_command(
        settings,
        ["petitions", "add", "x", "--title", "X", "--confirmation", "sms"],
        tmp_path / "cli.log",
        expect=2,
    )
    assert "'sms' is not one of 'email', 'none'" in done.stderr
