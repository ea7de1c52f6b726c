"""Which providers a node sends through, from the settings, and the one line that says so
on start (docs/messages.md, "Configuration" and "Safety")."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from respons.messages.http_sms import HttpSmsProvider
from respons.messages.push import WebPush
from respons.messages.smpp import SmppProvider
from respons.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Providers:
    sms: SmppProvider | HttpSmsProvider | None
    push: WebPush | None
    allow_list: tuple[str, ...] | None
    summary: str  # the line the node logs on start


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sms_host(settings: Settings) -> str | None:
    if settings.sms_provider == "smpp":
        return settings.smpp_host
    if settings.sms_provider == "http" and settings.sms_http_url:
        return urlsplit(settings.sms_http_url).hostname
    return None


def refusal(settings: Settings) -> str | None:
    """Why this installation must not send SMS as configured, or None. A demo or test
    installation sends only to an SMSC on this machine, or only to an allow-list: demo people's
    phone numbers may belong to real people."""
    if settings.sms_provider == "none" or settings.installation == "production":
        return None
    if settings.sms_allow or _loopback(sms_host(settings)):
        return None
    return (f"this is a {settings.installation} installation and the SMS provider at {sms_host(settings)!r} is not "
            "on this machine: set RESPONS_SMS_ALLOW to the test phones, or use a local SMSC")


def build(settings: Settings) -> Providers:
    allow = tuple(settings.sms_allow) or None
    sms = None
    why_not = refusal(settings)
    if settings.sms_provider != "none" and why_not is None:
        if not settings.sms_sender:
            why_not = "RESPONS_SMS_SENDER is not set (the number replies come back to)"
        elif settings.sms_provider == "smpp":
            sms = SmppProvider(host=settings.smpp_host, port=settings.smpp_port, system_id=settings.smpp_system_id,
                               password=settings.smpp_password, sender=settings.sms_sender)
        elif settings.sms_http_url:
            callback = f"{settings.public_url.rstrip('/')}/api/v1/messages/receipts" if settings.public_url else None
            sms = HttpSmsProvider(url=settings.sms_http_url, token=settings.sms_http_token, sender=settings.sms_sender,
                                  callback_url=callback, callback_token=settings.sms_callback_token or None)
        else:
            why_not = "RESPONS_SMS_HTTP_URL is not set"
    push = None
    if settings.vapid_private_key:
        push = WebPush(private_key=settings.vapid_private_key, subject=settings.vapid_subject)
    if sms is None:
        sms_line = ("SMS: none configured; next-of-kin requests fail at once and the centre takes those alarms"
                    if why_not is None else f"SMS: refused ({why_not}); the centre takes next-of-kin alarms")
    else:
        where = f"{settings.smpp_host}:{settings.smpp_port}" if settings.sms_provider == "smpp" else settings.sms_http_url
        limits = []
        if allow:
            limits.append("only to " + ", ".join(allow))
        if settings.installation != "production" and _loopback(sms_host(settings)):
            limits.append(f"a {settings.installation} installation: nothing reaches a real phone")
        sms_line = f"SMS over {settings.sms_provider.upper()} via {where} from {settings.sms_sender}" + (
            f" ({'; '.join(limits)})" if limits else "")
    push_line = "Web Push on" if push else "Web Push off (RESPONS_VAPID_PRIVATE_KEY unset)"
    return Providers(sms, push, allow, f"Messages: {sms_line}. {push_line}.")
