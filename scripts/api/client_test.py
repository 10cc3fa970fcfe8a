"""A client generated from docs/openapi.json (openapi-python-client) signs two users up,
makes them contacts and sends a message against a running local gateway.

    python scripts/api/client_test.py BASE_URL   (with the generated `whatspe_client` importable)
"""

import sys

from gateway import latest_code, random_phone
from whatspe_client import AuthenticatedClient, Client
from whatspe_client.api.auth import get_user, register, request_otp, verify_otp
from whatspe_client.api.contacts import accept_contact_request, send_contact_request
from whatspe_client.api.messages import get_history, send_message
from whatspe_client.models import (
    NewNumber,
    RegisterBody,
    RequestBody,
    RequestOtpBody,
    SendBody,
    VerifyOtpBody,
)


def check(res, status, what):
    if res.status_code != status:
        raise SystemExit(f"{what}: expected {status}, got {res.status_code}: {res.content!r}")
    if res.parsed is None:
        raise SystemExit(f"{what}: the generated client could not parse {res.content!r}")
    return res.parsed


def sign_up(base, username):
    public = Client(base_url=base, raise_on_unexpected_status=True)
    phone = random_phone()
    sent = check(request_otp.sync_detailed(client=public, body=RequestOtpBody(phone_number=phone)),
                 200, "request-otp")
    assert sent.phone_number == phone, sent
    code = latest_code(base, phone)
    verified = check(
        verify_otp.sync_detailed(client=public,
                                 body=VerifyOtpBody(phone_number=phone, verification_code=code)),
        200, "verify-otp")
    assert isinstance(verified, NewNumber), verified
    with_reg = AuthenticatedClient(base_url=base, token=verified.registration_token)
    user = check(register.sync_detailed(client=with_reg, body=RegisterBody(username=username)),
                 201, "register")
    authed = AuthenticatedClient(base_url=base, token=user.access_token)
    me = check(get_user.sync_detailed(client=authed), 200, "GET /api/user")
    assert me.username == username and me.phone_number == phone, me
    return me, authed


def main(base):
    import random
    import string

    suffix = "".join(random.choices(string.ascii_lowercase, k=8))
    asha, asha_client = sign_up(base, f"asha{suffix}")
    ravi, ravi_client = sign_up(base, f"ravi{suffix}")
    request = check(send_contact_request.sync_detailed(
        client=asha_client, body=RequestBody(username=ravi.username)), 201, "contact request")
    check(accept_contact_request.sync_detailed(str(request.id), client=ravi_client), 200, "accept")
    sent = check(send_message.sync_detailed(
        client=asha_client,
        body=SendBody(receiver_id=str(ravi.id), content="hello from a generated client",
                      client_message_id=f"gen-{suffix}")), 201, "send")
    history = check(get_history.sync_detailed(str(asha.id), client=ravi_client), 200, "history")
    assert [m.id for m in history] == [sent.id], history
    assert history[0].content == "hello from a generated client", history
    print(f"generated client: signed up {asha.username} and {ravi.username}, "
          f"sent and read message {sent.id}")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
