"""The language of the merchant pages: English or Simplified Chinese (Flask-Babel, catalogues in
smscrm/translations). A signed-in user reads the language they chose with the switch in the navigation, else
their merchant's language; someone not signed in reads the language their browser asks for.

The choice is copied into the session cookie when the user signs in or switches, so picking the language
of a page (an error page too) never needs the database.
"""
from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, get_locale, gettext

from smscrm.errors import SmscrmError
from smscrm.models import Language, StaffUser

LANGUAGES = tuple(Language)
HTML_LANG = {Language.EN: "en", Language.ZH: "zh-Hans"}  # zh-Hans: browsers pick Simplified Chinese glyphs
SESSION_KEY = "language"
babel = Babel()


def select_locale() -> str:
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or Language.EN


def remember(user: StaffUser) -> None:
    """The signed-in user's language, kept in the session for the pages that follow."""
    session[SESSION_KEY] = user.language or user.merchant.default_language


def said(error: SmscrmError) -> str:
    """A domain error's message in the page's language (the English one when the catalogue does not have it)."""
    return gettext(error.template, **error.values)


def sentence(error: SmscrmError) -> str:
    """A domain error's message ("the signature must be …") as a sentence on a page, in the page's language."""
    text = said(error)
    full_stop = "。" if page_language() == Language.ZH else "."
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "。", "!", "！", "?", "？")) else full_stop)


def page_language() -> str:
    """The language of this page (en, zh)."""
    return get_locale().language


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's msgid is its text on one line
    app.jinja_env.globals.update(page_language=page_language, html_lang=HTML_LANG)  # error pages need them too
