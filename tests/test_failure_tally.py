"""The failure tally: a bad row counts once per run however many statements read it, and a
very dirty input keeps the tally bounded (metrics.PLACES_KEPT places per statement)."""

from __future__ import annotations

from mdfql import metrics


def _fail(tally: metrics.FailureTally, places: range, reason: str = "bad") -> None:
    for i in places:
        tally.add("read_warc", reason, f"crawl.warc.gz@{i}")


def test_a_view_read_twice_counts_its_failures_once():
    tally = metrics.FailureTally()
    tally.set_statement(0)
    _fail(tally, range(30))
    tally.set_statement(1)  # a second statement reads the same view: the same rows fail
    _fail(tally, range(30))
    tally.set_statement(2)  # a third reads other files: their failures add up
    _fail(tally, range(100, 110))
    assert tally.get() == {("read_warc", "bad"): 40}


def test_past_its_places_a_statement_still_counts_exactly_and_stays_bounded(monkeypatch):
    monkeypatch.setattr(metrics, "PLACES_KEPT", 10)
    tally = metrics.FailureTally()
    tally.set_statement(0)
    _fail(tally, range(1000))
    _fail(tally, range(5), reason="other")
    assert tally.get() == {("read_warc", "bad"): 1000, ("read_warc", "other"): 5}
    assert len(tally._pass) <= 10 + 2  # the places kept, then one per (stage, reason)
    tally.set_statement(1)  # the same rows again: still counted once
    _fail(tally, range(1000))
    assert tally.get() == {("read_warc", "bad"): 1000, ("read_warc", "other"): 5}
