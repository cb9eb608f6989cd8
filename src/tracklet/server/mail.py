"""Sending e-mail through the configured SMTP server (``TRACKLET_SMTP_*``): run alerts
(:mod:`.alert_delivery`) and team invites (``createInvite``)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from tracklet.config import Settings

_TIMEOUT_S = 10.0


def configured(settings: Settings) -> bool:
    """Whether this server sends e-mail at all (an SMTP host is set)."""
    return bool(settings.smtp_host)


def send(settings: Settings, to: str, subject: str, text: str) -> str | None:
    """Send a plain-text e-mail to ``to`` (comma-separated addresses); None when the SMTP
    server accepted it, else what went wrong."""
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=_TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None
