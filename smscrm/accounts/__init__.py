"""Accounts: merchants, staff logins, API keys."""
