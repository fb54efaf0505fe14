"""`smscrm points verify | expire | recompute` against the test database."""
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from smscrm import points
from smscrm.cli import main
from smscrm.models import EntryKind, Member, PointsEntry, Stage

ANN = "+14155550100"


@pytest.fixture
def run(engine, database_url, monkeypatch):
    monkeypatch.setenv("SMSCRM_ENV", "testing")
    monkeypatch.setenv("SMSCRM_DATABASE_URL", database_url)

    def invoke(*args):
        return CliRunner().invoke(main, ["points", *args])

    return invoke


def test_verify_passes_on_a_consistent_ledger(run, join, buy):
    join(ANN)
    buy(ANN, 1000)
    result = run("verify")
    assert result.exit_code == 0, result.output
    assert "every balance is the sum of its ledger entries" in result.output


def test_verify_lists_each_mismatch_and_fails(run, session, join, buy):
    member = join(ANN)
    buy(ANN, 1000)
    session.execute(update(Member).where(Member.id == member.id).values(points_balance=12))
    session.commit()
    result = run("verify")
    assert result.exit_code == 1
    expected = f"member {member.id} (merchant {member.merchant_id}): balance 12, but the entries add up to 10"
    assert expected in result.output
    assert "1 mismatch(es)" in result.output
    session.execute(update(Member).where(Member.id == member.id).values(points_balance=10))
    session.commit()


def test_expire_expires_old_points(run, session, merchant, join, buy):
    points.update_settings(merchant, points_expiry_months=1)
    session.commit()
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    member = join(ANN, at=long_ago)
    buy(ANN, 1000, at=long_ago)
    result = run("expire")
    assert result.exit_code == 0, result.output
    assert "10 points expired; 0 expired redemption code(s)" in result.output
    session.expire_all()
    assert session.get(Member, member.id).points_balance == 0
    assert session.scalar(select(PointsEntry.kind).order_by(PointsEntry.id.desc())) == EntryKind.EXPIRE


def test_recompute_rebuilds_stages(run, session, join, buy):
    member = join(ANN)
    buy(ANN, 1000)
    session.execute(update(Member).values(stage=Stage.JOINED, visit_count=0))
    session.commit()
    result = run("recompute")
    assert result.exit_code == 0, result.output
    assert "recomputed: 1 member(s) changed" in result.output
    session.expire_all()
    assert (session.get(Member, member.id).stage, session.get(Member, member.id).visit_count) == (
        Stage.FIRST_PURCHASE, 1)
