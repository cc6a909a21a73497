#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (checked in; rerun after changing a
route or a format). Seeds are well-formed examples of each input plus the hostile shapes the
hostile-input tests use, so every run starts from real coverage instead of from nothing."""
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
UID = "user-01jd0000000000000000000000"
ACTOR = {"type": "admin", "id": "ops-1"}
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for s in seeds:
        b = s if isinstance(s, bytes) else s.encode()
        with open(os.path.join(d, hashlib.sha1(b).hexdigest()[:16]), "wb") as f:
            f.write(b)


def req(method, path, body=None, headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: userservice"]
    lines += list(headers)
    b = b""
    if body is not None:
        b = body if isinstance(body, bytes) else json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(b)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + b


A = "/api/v1/internal"
ADMIN = f"{A}/admin/users/{UID}"
cmd = {"reason_code": "support", "actor": ACTOR}
http = [
    req("POST", f"{A}/user-resolutions/by-email", {"email": "Pilot@Example.org"}),
    req("POST", f"{A}/users/ensure-by-email",
        {"email": "a@b.co", "registration_context": {"preferred_language": "pt-BR", "time_zone": "Europe/Berlin"}},
        ["Idempotency-Key: k-1", f"traceparent: {TP}", "tracestate: vendor=a,other=b", "X-Request-Id: req-1"]),
    req("GET", f"{A}/users/{UID}/exists"),
    req("GET", f"{A}/users/{UID}/account", headers=[f"traceparent: {TP}"]),
    req("PATCH", f"{A}/users/{UID}/profile", {"user_name": "Pilot_7"}),
    req("PATCH", f"{A}/users/{UID}/settings", {"preferred_language": "en", "time_zone": "UTC"}),
    req("PUT", f"{A}/users/{UID}/declared-country", {"declared_country": "DE"}),
    req("PUT", f"{A}/users/{UID}/declared-country", {"declared_country": None}),
    req("GET", f"{A}/users/{UID}/eligibility"),
    req("POST", f"{A}/users/eligibility:batch", {"user_ids": [UID, "user-x"]}),
    req("POST", f"{A}/users/profiles:batch", {"user_ids": [UID]}),
    req("POST", f"{ADMIN}/delete", cmd, ["Idempotency-Key: \"quoted\""]),
    req("PUT", f"{A}/admin/blocked-emails/a%40b.co", cmd),
    req("GET", f"{A}/admin/blocked-emails/a@b.co"),
    req("DELETE", f"{A}/admin/blocked-emails/a@b.co"),
    req("GET", ADMIN),
    req("GET", f"{A}/admin/users/by-email/a@b.co"),
    req("GET", f"{A}/admin/users/by-user-name/player-abc123"),
    req("POST", f"{ADMIN}/entitlements/grant",
        dict(cmd, plan_code="paid_monthly", source="billing", starts_at=None, ends_at="2027-01-01T00:00:00Z")),
    req("POST", f"{ADMIN}/entitlements/extend", dict(cmd, ends_at="2027-02-01T00:00:00.5+02:00", source="promo")),
    req("POST", f"{ADMIN}/entitlements/revoke", cmd),
    req("POST", f"{ADMIN}/sanctions/apply", dict(cmd, sanction_code="login_block", expires_at="2027-01-01T00:00:00Z")),
    req("POST", f"{ADMIN}/sanctions/remove", dict(cmd, sanction_code="game_join_block")),
    req("POST", f"{ADMIN}/limits/set", dict(cmd, limit_code="max_owned_private_games", value=3, expires_at=None)),
    req("POST", f"{ADMIN}/limits/remove", dict(cmd, limit_code="max_owned_private_games")),
    req("GET", f"{ADMIN}/entitlements/history?page_size=2"),
    req("GET", f"{ADMIN}/sanctions/history?page_size=50&page_token=AQ"),
    req("GET", f"{ADMIN}/limits/history"),
    req("GET", f"{A}/admin/users?page_size=10&plan_code=free&is_paid=true&sanction_code=login_block"
               "&limit_code=max_owned_private_games&declared_country=DE&created_after=2026-01-01T00:00:00Z"
               "&created_before=2027-01-01T00:00:00%2B02:00&paid_ends_before=2027-01-01T00:00:00Z&include_deleted=yes"),
    # Hostile shapes (tests/integration/hostile_input_test.cpp).
    req("GET", f"{A}/admin/users/by-user-name/player-%FF"),
    req("GET", f"{A}/admin/users/by-user-name/player-%00abc"),
    req("GET", f"{A}/admin/users?%FF=1"),
    req("GET", f"{A}/users/a%2Fb/account"),
    req("POST", f"{A}/user-resolutions/by-email", b'{"email":"\\u0000@x.org"}'),
    req("POST", f"{A}/user-resolutions/by-email", b'{"email":"a@b.co","extra":1}'),
    req("POST", f"{A}/user-resolutions/by-email", b'[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]'),
    req("POST", f"{A}/user-resolutions/by-email", b'{"email":"a@b.co"}', ["Content-Type: text/plain"]),
    req("DELETE", f"{A}/users/{UID}/account"),
    req("GET", "http://userservice" + f"{A}/users/{UID}/account"),
    b"GET / HTTP/1.0\r\n\r\n",
    req("GET", f"{A}/users/{UID}/exists", headers=["Connection: keep-alive"]) +
        req("GET", f"{A}/users/{UID}/eligibility"),
    b"POST " + f"{A}/users/eligibility:batch".encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"user_ids\": []}\r\n0\r\n\r\n",
]
write("http_request", http)

write("json_body", [bytes([i]) + s for i, s in enumerate([
    b'{"email":"a@b.co"}', b'{"a":{"b":{"c":[1,2,"x"]}},"n":null,"t":true,"i":-9223372036854775808}',
    b'{"user_ids":["a","b"],"f":1.5e300}', b'{"s":"\\ud83d\\ude00","e":"\\u00e9"}', b'{}',
    b'{"k":"\\ud800"}', b'{"deep":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}', b'  {"x" : "y"}  ', b'{"a":1,"a":2}'])])

write("go_duration", ["250ms", "90s", "1m30s", "1.5h", "0", "-1.5h", "1h2m3s4ms5us6ns", "2562047h47m16.854775807s",
                      "9223372036854775807ns", "1\u00b5s", "1\u03bcs", ".5s", "5.s", "+3m", "1e3s", "0.000000001s"])

write("page_token", ["history\nAQ", "history/sanctions/user-1\nAQAAAAAAAAAqAAAAAAAAAAA",
                     "listing\n" + "A" * 40, "x\n-_", "\n"])

write("trace_context", [f"{TP}\nvendor=a\nreq-1", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra\nk=v\n",
                        "00-00000000000000000000000000000000-00f067aa0ba902b7-01\n\n" + "r" * 129,
                        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n" + "a=b," * 200 + "\nx y"])

write("email", ["Pilot@Example.org", "  a@b.co\t", "a@b", "a@@b.co", "a@b..co", "x" * 65 + "@b.co",
                "a@xn--bcher-kva.example", "\u00e9@b.co", "a b@c.de", "a@b.co\x00", "\"q\"@b.co"])
write("user_name", ["Pilot_7", "player-abc123", "ab", "a" * 25, "Admin", "ROOT", "9lives", "na\u00efve", "x-_"])
write("locale", ["en", "pt-BR", "EN", "pt-br", "Europe/Berlin", "UTC", "Etc/UTC", "US/Pacific", "Factory",
                 "DE", "UK", "XK", "zz-ZZ", "Europe/Kiev", "America/Argentina/Buenos_Aires"])
write("rfc3339", ["2026-11-25T17:38:22.123Z", "2026-11-25t17:38:22z", "1970-01-01T00:00:00-00:00",
                  "2024-02-29T23:59:59.999999999+14:00", "2023-02-29T00:00:00Z", "2026-11-25 17:38:22Z",
                  "1677-09-22T00:12:43.145224192Z", "2262-04-11T23:47:16.854775807Z", "2026-12-31T23:59:60Z"])
write("utf8", [b"plain", b"caf\xc3\xa9", b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80",
               b"\x00\x01\x1f\"\\\x7f", "\U0001F600".encode(), b"\xe2\x82"])
write("redis_reply", [b"\x02*2\r\n$2\r\nok\r\n$3\r\ndup\r\n", b"\x03*3\r\n+ok\r\n$4\r\nskip\r\n$22\r\nerr:WRONGTYPE wrong op\r\n",
                      b"\x00-FENCED 42\r\n", b"\x00-NOSCRIPT No matching script\r\n", b"\x00*0\r\n",
                      b"\x01*1\r\n:1\r\n", b"\x01*1\r\n*1\r\n$2\r\nok\r\n", b"\x00$-1\r\n", b"\x00-FENCED -1\r\n",
                      b"\x01*1\r\n$2\r\nok\r\n*1\r\n$3\r\ndup\r\n"])
