import pytest
from releaserank import InvalidVersion, compare_versions, parse_version


@pytest.mark.parametrize(
    "lower,higher",
    [
        ("1.0.dev1", "1.0a1"),
        ("1.0a1", "1.0a2"),
        ("1.0a2", "1.0b1"),
        ("1.0b1", "1.0rc1"),
        ("1.0rc1", "1.0"),
        ("1.0", "1.0.post1"),
        ("1.0.post1.dev2", "1.0.post1"),
        ("1.9", "1.10"),
        ("2.0", "1!0.1"),
        ("1.0a1.dev1", "1.0a1"),
    ],
)
def test_ordering(lower, higher):
    assert compare_versions(lower, higher) < 0
    assert compare_versions(higher, lower) > 0


def test_trailing_zeros_and_spelling_are_equal():
    assert compare_versions("1.0", "1.0.0") == 0
    assert compare_versions("v1.2-alpha.3", "1.2a3") == 0
    assert compare_versions("1.0-r2", "1.0.post2") == 0


def test_roundtrip_and_prerelease_flag():
    assert str(parse_version("1!2.0.0rc1.post3.dev4")) == "1!2rc1.post3.dev4"
    assert parse_version("2.0.dev1").is_prerelease
    assert not parse_version("2.0.post1").is_prerelease


def test_invalid():
    with pytest.raises(InvalidVersion):
        parse_version("one.two")
