"""The resend pause and the daily cap, judged on one signer's mail history."""

from __future__ import annotations

from streams.mailer.history import Mailed, after_mail, merged, resend_refusal

HOUR = 3600.0
PAUSE = 6 * HOUR


def refusal(mailed: Mailed | None, now: float, per_day: int = 3) -> str | None:
    return resend_refusal(mailed, now, pause_seconds=PAUSE, per_day=per_day)


def test_a_signer_never_mailed_may_get_a_resend() -> None:
    assert refusal(None, now=0.0) is None


def test_a_resend_inside_the_pause_after_any_mail_is_paused() -> None:
    first = after_mail(None, "first", now=1000.0)
    assert refusal(first, now=1000.0 + PAUSE - 1) == "paused"


def test_a_resend_after_the_pause_may_go() -> None:
    first = after_mail(None, "first", now=1000.0)
    assert refusal(first, now=1000.0 + PAUSE) is None


def test_the_day_holds_at_most_the_cap_of_resends_even_with_no_pause() -> None:
    mailed = after_mail(None, "first", now=0.0)
    sent = []
    for minute in range(1, 10):
        now = minute * 60.0
        if resend_refusal(mailed, now, pause_seconds=0, per_day=3) is None:
            mailed = after_mail(mailed, "resend", now)
            sent.append(now)
    assert sent == [60.0, 120.0, 180.0]


def test_resends_older_than_a_day_no_longer_count() -> None:
    mailed = Mailed(last_sent_at=0.0, resends=(0.0, 1.0, 2.0))
    assert refusal(mailed, now=24 * HOUR - 1) == "daily cap"
    assert refusal(mailed, now=24 * HOUR + 1) is None


def test_first_mails_are_never_counted_as_resends() -> None:
    mailed = after_mail(after_mail(None, "first", 0.0), "first", 10.0)
    assert mailed == Mailed(10.0, ())


def test_another_mailers_record_adds_its_mails_to_ours() -> None:
    mine = Mailed(100.0, (50.0,))
    theirs = Mailed(200.0, (150.0, 50.0))
    assert merged(mine, theirs) == Mailed(200.0, (50.0, 150.0))
    assert merged(None, theirs) == theirs
