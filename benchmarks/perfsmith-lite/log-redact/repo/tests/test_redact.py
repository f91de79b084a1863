from __future__ import annotations

import pytest

from logscrub import Policy, PolicyError, load_policy, redact, redact_all

POLICY = """
# erasure requests
email: ann.lee@example.com
email: joann.lee@example.com
account: ACC-00042
account: ACC-00042   # duplicate, ignored
key: session_id
"""


@pytest.fixture()
def policy() -> Policy:
    return load_policy(POLICY)


def test_load_policy(policy: Policy) -> None:
    assert policy.identifiers == (
        ("email", "ann.lee@example.com"),
        ("email", "joann.lee@example.com"),
        ("account", "ACC-00042"),
    )
    assert policy.keys[-1] == "session_id" and "password" in policy.keys
    with pytest.raises(PolicyError, match="unknown kind"):
        load_policy("phone: 123")
    with pytest.raises(PolicyError, match="expected"):
        load_policy("email")


def test_identifiers_are_replaced_everywhere_with_counts(policy: Policy) -> None:
    out = redact("user=ann.lee@example.com paid for ACC-00042 and ACC-00042\n", policy)
    assert out.text == "user=[REDACTED:email] paid for [REDACTED:account] and [REDACTED:account]\n"
    assert out.counts == {"email": 1, "account": 2}
    assert out.total == 3


def test_identifiers_apply_in_policy_order(policy: Policy) -> None:
    # The earlier entry matches inside the later one first: documented behaviour.
    assert redact("to joann.lee@example.com", policy).text == "to jo[REDACTED:email]"


def test_identifier_match_is_exact_and_literal() -> None:
    policy = load_policy("email: a.b+c@x.io\naccount: ACC-1")
    text = "a.b+c@x.io aXb+c@x.io A.B+C@X.IO ACC-1 ACC-10"
    assert redact(text, policy).text == (
        "[REDACTED:email] aXb+c@x.io A.B+C@X.IO [REDACTED:account] [REDACTED:account]0"
    )


def test_sensitive_keys_any_case_and_json(policy: Policy) -> None:
    text = 'PASSWORD=hunter2 {"token": "a b c", "x": 1} Session_ID: 77f;next'
    out = redact(text, policy)
    assert out.text == (
        'PASSWORD=[REDACTED] {"token": [REDACTED], "x": 1} Session_ID: [REDACTED];next'
    )
    assert out.counts == {"key": 3}


def test_bearer_cards_and_ips(policy: Policy) -> None:
    text = "Authorization: Bearer abc.def-123456 card 4111 1111 1111 1111 from 10.1.22.7"
    out = redact(text, policy)
    assert out.text == "Authorization: [REDACTED] card [REDACTED:card] from 10.1.x.x"
    plain = redact("curl -H 'bearer abcdefgh12' 192.168.0.1", load_policy("", mask_ip=False))
    assert plain.text == "curl -H 'Bearer [REDACTED]' 192.168.0.1"


def test_unicode_and_empty_inputs(policy: Policy) -> None:
    assert redact("", policy) == redact("", policy)
    assert redact("", policy).text == "" and redact("", policy).counts == {}
    out = redact("Zoë ☃ ann.lee@example.com ünïcode", policy)
    assert out.text == "Zoë ☃ [REDACTED:email] ünïcode"
    assert redact_all([], policy) == []


def test_redact_all_keeps_order_and_is_independent_per_text(policy: Policy) -> None:
    results = redact_all(["ACC-00042", "nothing here", "ann.lee@example.com"], policy)
    assert [r.text for r in results] == ["[REDACTED:account]", "nothing here", "[REDACTED:email]"]
    assert [r.counts for r in results] == [{"account": 1}, {}, {"email": 1}]


def test_regex_metacharacters_in_identifiers_are_literal() -> None:
    policy = load_policy("account: (ACC)*.?[1]")
    assert redact("x (ACC)*.?[1] y ACCACC1", policy).text == "x [REDACTED:account] y ACCACC1"
