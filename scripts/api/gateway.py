"""Helpers for the API contract checks: sign users up on a running local gateway through the
SMS outbox (`GET /_local/sms`), with nothing but the standard library.

    python3 scripts/api/gateway.py BASE_URL CONFIG_TOML

signs up a user with a contact, a message from that contact and a pending contact request,
prints the user's access token, and writes a schemathesis configuration whose dictionaries
hold those ids, so that generated requests also reach real users, requests and messages.
"""

import json
import random
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


def call(base, method, path, body=None, token=None):
    """One request; returns (status, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            raw = res.read()
            return res.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def expect(status, got, what):
    if got[0] != status:
        raise SystemExit(f"{what}: expected {status}, got {got[0]}: {got[1]}")
    return got[1]


def random_phone():
    """A fresh Indian mobile number in E.164."""
    return "+91" + random.choice("6789") + "".join(random.choices("0123456789", k=9))


def latest_code(base, phone):
    """The code in the newest text the outbox holds for `phone`."""
    query = urllib.parse.urlencode({"phoneNumber": phone})
    texts = expect(200, call(base, "GET", f"/_local/sms?{query}"), "outbox")
    match = re.search(r"\b(\d{6})\b", texts[-1]["body"])
    if not match:
        raise SystemExit(f"no code in {texts[-1]['body']!r}")
    return match.group(1)


def sign_up(base, username):
    """Signs a new user up (request-otp, outbox, verify-otp, register): the register answer."""
    phone = random_phone()
    expect(200, call(base, "POST", "/api/auth/request-otp", {"phoneNumber": phone}), "request-otp")
    code = latest_code(base, phone)
    verified = expect(
        200,
        call(base, "POST", "/api/auth/verify-otp", {"phoneNumber": phone, "verificationCode": code}),
        "verify-otp",
    )
    return expect(
        201,
        call(base, "POST", "/api/auth/register", {"username": username},
             token=verified["registrationToken"]),
        "register",
    )


def befriend(base, a, b):
    """Makes the users of two register answers contacts."""
    req = expect(201, call(base, "POST", "/api/contacts/request", {"receiverId": b["id"]},
                           token=a["accessToken"]), "contact request")
    expect(200, call(base, "POST", f"/api/contacts/accept/{req['id']}", token=b["accessToken"]),
           "accept")


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def main(base, config_path):
    suffix = "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=8))
    me = sign_up(base, f"fuzz{suffix}")
    peer = sign_up(base, f"peer{suffix}")
    asker = sign_up(base, f"asker{suffix}")
    befriend(base, me, peer)
    request = expect(201, call(base, "POST", "/api/contacts/request", {"receiverId": me["id"]},
                               token=asker["accessToken"]), "pending request")
    sent = expect(201, call(base, "POST", "/api/messages",
                            {"receiverId": me["id"], "content": "hi"},
                            token=peer["accessToken"]), "send")
    device = expect(201, call(base, "POST", "/api/devices",
                              {"platform": "fcm", "token": f"fcm-{suffix}"},
                              token=me["accessToken"]), "device")
    users = [peer["id"], asker["id"], me["id"]]
    dictionaries = {
        "users": users,
        "ids": users + [request["id"], device["id"]],
        "messages": [sent["id"]],
        "chats": [sent["chatId"]],
        "usernames": [peer["username"], asker["username"]],
        "phones": [peer["phoneNumber"], asker["phoneNumber"]],
    }
    bindings = {
        "path.id": "ids",
        "path.user_id": "users",
        "path.peer_id": "users",
        "query.before": "messages",
        "query.after": "messages",
        "body.receiverId": "users",
        "body.peerId": "users",
        "body.upTo": "messages",
        "body.chatId": "chats",
        "body.chatID": "chats",
        "body.username": "usernames",
        "body.phoneNumber": "phones",
    }
    with open(config_path, "w") as f:
        f.write("# Written by scripts/api/gateway.py for one run: ids that exist on the gateway.\n")
        for name, values in dictionaries.items():
            f.write(f"[dictionaries.{name}]\nvalues = {toml_list(values)}\n\n")
        f.write("[parameters]\n")
        for key, name in bindings.items():
            f.write(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}\n')
    print(me["accessToken"])


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2])
