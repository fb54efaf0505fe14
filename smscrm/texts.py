"""The texts a shopper reads, in English and Chinese; a merchant may override any of them.

Chinese texts start with the merchant's 【signature】. Every text that invites further
messages carries the opt-out instruction, which for Chinese is merchant-configurable.
"""
from __future__ import annotations

from smscrm.models import Language, Merchant

OPT_OUT_INSTRUCTION = {Language.EN: "Reply STOP to opt out.", Language.ZH: "回复TD退订"}

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        Language.EN: "Welcome to {merchant}{name_suffix}! You are now a member: your phone number "
        "is your card. Text BAL for your points, HELP for help. {opt_out}",
        Language.ZH: "欢迎加入{merchant}会员{name_suffix}！您的手机号就是会员卡。"
        "发送“积分”查询积分，发送“帮助”获取帮助。{opt_out}",
    },
    "already_member": {
        Language.EN: "You are already a member of {merchant}. Text BAL for your points, HELP for help. {opt_out}",
        Language.ZH: "您已是{merchant}会员。发送“积分”查询积分，发送“帮助”获取帮助。{opt_out}",
    },
    "opted_out": {
        Language.EN: "You have been unsubscribed from {merchant} and will get no more texts. Reply START to resubscribe.",
        Language.ZH: "您已退订{merchant}的短信，将不再收到消息。回复START可重新订阅。",
    },
    "opted_in": {
        Language.EN: "You are subscribed to {merchant} again. {opt_out}",
        Language.ZH: "您已重新订阅{merchant}的短信。{opt_out}",
    },
    "help": {
        Language.EN: "{merchant} members club. Text JOIN to join, BAL for points, BDAY MM-DD for a "
        "birthday treat, LIKE <topic> for news you want. {opt_out}",
        Language.ZH: "{merchant}会员服务。发送“入会”加入，“积分”查询积分，“生日 MM-DD”登记生日，"
        "“兴趣 主题”订阅感兴趣的内容。{opt_out}",
    },
    "balance": {
        Language.EN: "{merchant}: you have {points} points.",
        Language.ZH: "您在{merchant}的积分为{points}分。",
    },
    "birthday_saved": {
        Language.EN: "Thanks! We will remember your birthday on {birthday}.",
        Language.ZH: "谢谢！我们记住了您的生日：{birthday}。",
    },
    "birthday_invalid": {
        Language.EN: "Please send your birthday as BDAY MM-DD, for example BDAY 03-08.",
        Language.ZH: "请按“生日 MM-DD”格式发送，例如：生日 03-08 或 生日 3月8日。",
    },
    "interest_saved": {
        Language.EN: "Noted: you like {topic}. We will keep you posted.",
        Language.ZH: "已记录您的兴趣：{topic}。",
    },
    "interest_invalid": {
        Language.EN: "Tell us what you like, for example LIKE green tea.",
        Language.ZH: "请告诉我们您的兴趣，例如：兴趣 绿茶。",
    },
    "feedback_ack": {
        Language.EN: "Thanks for your message, {merchant} will get back to you.",
        Language.ZH: "感谢您的留言，{merchant}会尽快回复您。",
    },
    "join_hint": {
        Language.EN: "Text JOIN to become a member of {merchant} and earn points on every visit.",
        Language.ZH: "发送“入会”即可成为{merchant}会员，每次消费均可积分。",
    },
}


def render(merchant: Merchant, key: str, language: str, **values) -> str:
    """The text `key` in `language`, with the merchant's override if it has one."""
    lang = Language(language) if language in tuple(Language) else Language(merchant.default_language)
    template = (merchant.texts or {}).get(key, {}).get(lang) or DEFAULT_TEXTS[key][lang]
    values.setdefault("merchant", merchant.name)
    values.setdefault("opt_out", opt_out_instruction(merchant, lang))
    body = template.format_map(_KeepUnknown(values)).strip()
    return with_signature(merchant, body, lang)


class _KeepUnknown(dict):
    """A merchant's template may name a placeholder we do not fill: show it as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def opt_out_instruction(merchant: Merchant, language: str) -> str:
    custom = (merchant.texts or {}).get("opt_out", {}).get(language)
    return custom or OPT_OUT_INSTRUCTION[Language(language)]


def with_signature(merchant: Merchant, body: str, language: str) -> str:
    """Chinese texts begin with 【signature】, as carriers in China require."""
    if language == Language.ZH and not body.startswith("【"):
        return f"【{merchant.signature}】{body}"
    return body
