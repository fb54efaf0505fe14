"""The `smscrm` command: merchants, the demo seed, and the shopper simulator against a live server."""
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from smscrm.cli import main
from smscrm.models import Member, Merchant, StaffUser
from tests.conftest import MERCHANT_NUMBER, PUBLIC_URL, TEST_AUTH_TOKEN


@pytest.fixture
def run(engine, database_url, monkeypatch):
    monkeypatch.setenv("SMSCRM_ENV", "testing")
    monkeypatch.setenv("SMSCRM_DATABASE_URL", database_url)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TEST_AUTH_TOKEN)
    monkeypatch.setenv("SMSCRM_PUBLIC_URL", PUBLIC_URL)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_db_upgrade_warns_when_postgresql_keeps_no_statistics_by_itself(run, engine):
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "database is up to date"
    with engine.connect() as connection:
        autovacuum_off = engine.dialect.name == "postgresql" and connection.scalar(text("SHOW autovacuum")) == "off"
    assert ("autovacuum is off" in result.stderr) == autovacuum_off


def test_merchant_create_prints_the_id_last(run, session):
    result = run("merchant", "create", "--name", "Noodle Bar", "--number", "+8613800138000", "--language", "zh",
                 "--timezone", "Asia/Shanghai", "--country", "CN", "--email", "Boss@Noodle.example",
                 "--password", "long enough password")
    assert result.exit_code == 0, result.output
    merchant_id = int(result.output.strip().splitlines()[-1])
    created = session.get(Merchant, merchant_id)
    assert (created.name, created.primary_number, created.default_language, created.timezone) == (
        "Noodle Bar", "+8613800138000", "zh", "Asia/Shanghai")
    assert session.scalar(select(StaffUser.email).where(StaffUser.merchant_id == merchant_id)) == "boss@noodle.example"


@pytest.mark.parametrize(
    "option, value, message",
    [("--number", "12", "not a possible phone number"), ("--timezone", "Mars/Base", "IANA"),
     ("--email", "nobody", "email"), ("--password", "short", "at least 8")],
)
def test_merchant_create_refuses_bad_input_with_one_line(run, session, option, value, message):
    args = {"--name": "Noodle Bar", "--number": "+14155550111", "--timezone": "UTC", "--email": "a@b.example",
            "--password": "long enough password", option: value}
    result = CliRunner().invoke(main, ["merchant", "create", *[x for pair in args.items() for x in pair]])
    assert result.exit_code != 0 and message in result.output
    assert session.scalar(select(Merchant)) is None


def test_sender_numbers_are_unique_across_merchants(run, merchant):
    result = CliRunner().invoke(main, ["merchant", "create", "--name", "Copycat", "--number", MERCHANT_NUMBER,
                                       "--email", "x@y.example", "--password", "long enough password"])
    assert result.exit_code != 0 and "already belongs" in result.output


def test_demo_seeds_only_an_empty_database(run, session):
    assert "sign in as" in run("demo").output
    assert "nothing seeded" in run("demo").output
    assert len(session.scalars(select(Merchant)).all()) == 1


def test_simulate_posts_a_signed_text_and_prints_the_reply(run, live_server, merchant, session):
    result = run("simulate", "--url", live_server, "--to", MERCHANT_NUMBER, "--from", "+14155550100", "JOIN Ann")
    assert result.exit_code == 0, result.output
    assert "Welcome to Green Leaf Tea, Ann!" in result.output
    assert session.scalar(select(Member.name)) == "Ann"
    chinese = run("simulate", "--url", live_server, "--to", MERCHANT_NUMBER, "--from", "+14155550101", "入会")
    assert "【绿叶茶馆】欢迎加入" in chinese.output


def test_simulate_explains_a_wrong_token(run, live_server, merchant):
    result = CliRunner().invoke(main, ["simulate", "--url", live_server, "--token", "wrong", "--to", MERCHANT_NUMBER,
                                       "--from", "+14155550100", "JOIN"])
    assert result.exit_code != 0 and "refused the signature" in result.output


def test_simulate_explains_when_no_server_answers(run):
    result = CliRunner().invoke(main, ["simulate", "--url", "http://127.0.0.1:9", "--to", MERCHANT_NUMBER,
                                       "--from", "+14155550100", "JOIN"])
    assert result.exit_code != 0 and "make run" in result.output


def test_merchant_list_prints_each_merchants_id_name_and_numbers(run, merchant):
    result = run("merchant", "list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{merchant.id}  Green Leaf Tea  {MERCHANT_NUMBER}"]


def test_merchant_list_says_when_there_is_none(run):
    assert "no merchants yet" in run("merchant", "list").output


def test_simulate_finds_the_server_that_serve_started_in_this_folder(run, live_server, merchant, tmp_path,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "server-url").write_text(live_server + "\n")  # as `smscrm serve` writes it
    result = run("simulate", "--to", MERCHANT_NUMBER, "--from", "+14155550100", "JOIN Ann")
    assert result.exit_code == 0, result.output
    assert "Welcome to Green Leaf Tea, Ann!" in result.output
