"""Which providers a node sends through, and the installations that must not reach a phone."""

from __future__ import annotations

from typer.testing import CliRunner

from respons.cli import app
from respons.messages import providers, push
from respons.messages.http_sms import HttpSmsProvider
from respons.messages.smpp import SmppProvider
from respons.settings import Settings


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_without_a_provider_no_sms_is_sent_and_the_start_says_what_happens_instead():
    built = providers.build(settings())
    assert built.sms is None and built.push is None
    assert "next-of-kin requests fail at once" in built.summary and "Web Push off" in built.summary


def test_a_demo_or_test_installation_refuses_an_smsc_elsewhere_unless_an_allow_list_names_the_phones():
    far = dict(sms_provider="smpp", smpp_host="smsc.operator.example", sms_sender="2222")
    assert isinstance(providers.build(settings(**far)).sms, SmppProvider), "production sends where it is told"
    refused = providers.build(settings(**far, installation="demo"))
    assert refused.sms is None and "refused" in refused.summary and "demo installation" in refused.summary
    allowed = providers.build(settings(**far, installation="test", sms_allow="+4740000001"))
    assert isinstance(allowed.sms, SmppProvider) and allowed.allow_list == ("+4740000001",)
    assert "only to +4740000001" in allowed.summary
    local = providers.build(settings(sms_provider="http", sms_http_url="http://127.0.0.1:2780/sms/v1/messages",
                                     sms_sender="2222", installation="demo"))
    assert isinstance(local.sms, HttpSmsProvider) and "nothing reaches a real phone" in local.summary


def test_an_sms_provider_without_a_number_to_answer_to_is_not_started():
    built = providers.build(settings(sms_provider="smpp", smpp_host="127.0.0.1"))
    assert built.sms is None and "RESPONS_SMS_SENDER" in built.summary


def test_push_keys_pair_up_and_the_command_prints_a_usable_key():
    private, public = push.new_keys()
    assert push.public_key_of(private) == public and len(public) == 87  # 65 octets, base64url
    out = CliRunner().invoke(app, ["push-keys"]).output
    key = out.splitlines()[0].removeprefix("RESPONS_VAPID_PRIVATE_KEY=")
    assert push.public_key_of(key) in out
    assert providers.build(settings(vapid_private_key=key)).push.public_key == push.public_key_of(key)


def test_only_known_push_services_are_sent_to():
    assert push.service_allowed("https://fcm.googleapis.com/fcm/send/abc", ())
    assert push.service_allowed("https://web.push.apple.com/QGx", ())
    assert push.service_allowed("https://wns2-db5p.notify.windows.com/w/?token=x", ())
    assert not push.service_allowed("https://intranet.kommune.no/steal", ())
    assert not push.service_allowed("http://fcm.googleapis.com/fcm/send/abc", ()), "never in the clear"
    assert not push.service_allowed("http://localhost:8090/notify/x", ())
    assert push.service_allowed("http://localhost:8090/notify/x", ("localhost",))
