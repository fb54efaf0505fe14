"""Shoppers' texts both ways: consent, the inbox, surveys, texts in English and Chinese, the outbox, courtesy."""
