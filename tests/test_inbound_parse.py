"""Keyword parsing is pure: every keyword, both languages, full-width and mixed case."""
import pytest

from smscrm.inbound import Birthday, parse, parse_birthday
from smscrm.models import Intent


@pytest.mark.parametrize(
    "body, intent, argument, language",
    [
        ("JOIN Ann", Intent.JOIN, "Ann", "en"),
        ("join", Intent.JOIN, "", "en"),
        ("ｊｏｉｎ　Ａｎｎ", Intent.JOIN, "Ann", "en"),  # full-width letters and space
        ("Join\tAnn  Lee", Intent.JOIN, "Ann Lee", "en"),
        ("入会 张三", Intent.JOIN, "张三", "zh"),
        ("入会张三", Intent.JOIN, "张三", "zh"),
        ("入会", Intent.JOIN, "", "zh"),
        ("HELP", Intent.HELP, "", "en"),
        ("info", Intent.HELP, "", "en"),
        ("帮助", Intent.HELP, "", "zh"),
        ("BAL", Intent.BALANCE, "", "en"),
        ("points?", Intent.BALANCE, "", "en"),
        ("积分", Intent.BALANCE, "", "zh"),
        ("BDAY 03-08", Intent.BIRTHDAY, "03-08", "en"),
        ("生日 3月8日", Intent.BIRTHDAY, "3月8日", "zh"),
        ("LIKE green tea", Intent.INTEREST, "green tea", "en"),
        ("兴趣 绿茶", Intent.INTEREST, "绿茶", "zh"),
        ("hello, are you open today?", Intent.FEEDBACK, "hello, are you open today?", None),
        ("今天开门吗", Intent.FEEDBACK, "今天开门吗", "zh"),
        ("joinery is my trade", Intent.FEEDBACK, "joinery is my trade", None),
    ],
)
def test_first_word_keywords(body, intent, argument, language):
    command = parse(body)
    assert (command.intent, command.argument, command.language) == (intent, argument, language)


@pytest.mark.parametrize(
    "word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "revoke", "OPTOUT", "TD", "t", "R",
             "退订", "取消", "ＳＴＯＰ", " stop. ", "Stop!"]
)
def test_opt_out_words_alone(word):
    assert parse(word).intent is Intent.OPT_OUT


@pytest.mark.parametrize("body", ["stop by later", "please cancel my order", "the end", "T-shirt", "R u open"])
def test_opt_out_words_inside_a_sentence_are_feedback(body):
    assert parse(body).intent is Intent.FEEDBACK


@pytest.mark.parametrize("word", ["START", "unstop", "Yes", "ＹＥＳ"])
def test_opt_in_words_alone(word):
    assert parse(word).intent is Intent.OPT_IN


def test_chinese_opt_out_words_answer_in_chinese():
    assert parse("TD").language == "zh"
    assert parse("退订").language == "zh"
    assert parse("STOP").language == "en"


@pytest.mark.parametrize("word", ["订阅", "开通", "订阅。"])
def test_chinese_opt_in_words_answer_in_chinese(word):
    assert (parse(word).intent, parse(word).language) == (Intent.OPT_IN, "zh")


@pytest.mark.parametrize(
    "text, expected",
    [("03-08", (3, 8)), ("3/8", (3, 8)), ("12.31", (12, 31)), ("3月8日", (3, 8)), ("3月8号", (3, 8)),
     ("０３－０８", (3, 8)), ("02-29", (2, 29)),
     ("1990-03-08", (3, 8, 1990)), ("1990/3/8", (3, 8, 1990)), ("1990年3月8日", (3, 8, 1990)),
     ("１９９０年３月８日", (3, 8, 1990)), ("2000-02-29", (2, 29, 2000)),
     ("March 8", (3, 8)), ("march 8th", (3, 8)), ("Mar. 8", (3, 8)), ("8 March", (3, 8)), ("Sept 30", (9, 30)),
     ("March 8, 1990", (3, 8, 1990)), ("8 Mar 1990", (3, 8, 1990))],
)
def test_birthdays(text, expected):
    """The month and day, and the year when one is given (issue 21: BDAY 1990-03-08, 生日 1990年3月8日, March 8)."""
    assert parse_birthday(text) == Birthday(*expected)


@pytest.mark.parametrize("text", ["", "13-01", "02-30", "00-10", "3-8-1990", "abc", "31", "1990-02-29",
                                  "1990-13-01", "February 30", "Ma 8", "Smarch 8", "March 32", "8"])
def test_impossible_birthdays(text):
    assert parse_birthday(text) is None


@pytest.mark.parametrize("body", ["", "   ", "😀", "\x00\x01", "A" * 5000, "\u200b", "ＨＥＬＰ"])
def test_parse_never_fails(body):
    assert parse(body).intent in Intent
