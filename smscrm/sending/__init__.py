"""Sending: transports (twilio, console), send rates, provider status, SMS parts."""
