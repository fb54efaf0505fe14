"""`parts_sql` counts a column of texts in the database as `count` does in Python, on SQLite and PostgreSQL."""
import pytest
from sqlalchemy import literal, select

from smscrm.sending.parts import GSM_BASIC, GSM_EXTENSION, count, parts_sql

TEXTS = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "€" * 80,
    "€" * 81,
    "a" * 159 + "€",
    "[]{}^~|\\ and a form feed \f" * 7,
    "你" * 70,
    "你" * 71,
    "a" * 133 + "’",
    "Line one\nline two\r\n@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà",
    "".join(sorted(GSM_BASIC | GSM_EXTENSION)),
    "Thanks for your visit! You earned 12 points; balance 340. Reply STOP to opt out",
    "【绿叶茶馆】感谢光临！本次积分12，余额340。回复TD退订",
    "Spring teas are here, Ann! Come taste the new oolong this week. " * 3 + "Reply STOP to opt out",
    "a" * 100 + "`",  # a backtick is not GSM-7
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_the_database_counts_the_parts_python_counts(session, text):
    assert session.scalar(select(parts_sql(literal(text)))) == count(text).parts
