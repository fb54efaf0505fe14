"""Loyalty: members, the points ledger, rewards, referrals, classes and stages, codes."""
