"""What the SMPP session may still send: a part is withdrawn only while it waits."""

from __future__ import annotations

import asyncio

from aiosmpplib import PhoneNumber, SubmitSm

from respons.messages.smpp import _Parts, address, e164


def part(log_id: str) -> SubmitSm:
    return SubmitSm(short_message="x", source=PhoneNumber("2222"), destination=PhoneNumber("4741000001"), log_id=log_id)


def test_a_waiting_part_is_withdrawn_and_never_sent_but_one_the_session_took_may_have_been():
    async def scenario():
        parts = _Parts()
        await parts.enqueue(part("u/0/1"))
        await parts.enqueue(part("u/0/2"))
        assert parts.withdraw("u/0/1") is True
        taken = await parts.dequeue()
        assert taken.log_id == "u/0/2", "the withdrawn part is skipped"
        assert parts.withdraw("u/0/2") is False, "already with the session: it may have reached the SMSC"
        # A new attempt has its own id: nothing withdrawn earlier touches it.
        await parts.enqueue(part("u/1/1"))
        assert (await parts.dequeue()).log_id == "u/1/1"

    asyncio.run(scenario())


def test_numbers_to_and_from_the_smsc():
    assert (address("+4741000001").number, int(address("+4741000001").ton)) == ("4741000001", 1)
    assert int(address("Respons").ton) == 5 and address("2222").number == "2222"
    assert e164("4741000001", 1) == "+4741000001" and e164("4741000001", 0) == "+4741000001"
    assert e164("2222", 0) == "2222"
