from releaserank import Release, latest_releases, normalize_name, rank_releases, render_table


def rel(name, version, uploaded=0, filename=None, yanked=False):
    return Release(name, version, uploaded, filename or f"{name}-{version}.tar.gz", yanked)


def names(releases):
    return [(r.name, r.version) for r in releases]


def test_empty():
    assert rank_releases([]) == []
    assert latest_releases([]) == []
    assert render_table([]) == "(no releases)"


def test_projects_ascend_versions_descend():
    data = [rel("zeta", "1.0"), rel("alpha", "1.9"), rel("alpha", "1.10"), rel("Beta", "0.1")]
    assert names(rank_releases(data)) == [
        ("alpha", "1.10"),
        ("alpha", "1.9"),
        ("Beta", "0.1"),
        ("zeta", "1.0"),
    ]


def test_name_spellings_group_together():
    data = [
        rel("Foo_Bar", "1.0"),
        rel("foo-baz", "1.0"),
        rel("foo.bar", "2.0"),
        rel("FOO--BAR", "1.5"),
    ]
    assert names(rank_releases(data)) == [
        ("foo.bar", "2.0"),
        ("FOO--BAR", "1.5"),
        ("Foo_Bar", "1.0"),
        ("foo-baz", "1.0"),
    ]
    assert normalize_name("Ｆoo_Bar") == "foo-bar"


def test_equal_versions_break_ties_by_upload_then_filename():
    data = [
        rel("pkg", "1.0", uploaded=5, filename="pkg-1.0-b.whl"),
        rel("pkg", "1.0.0", uploaded=9, filename="pkg-1.0.0.tar.gz"),
        rel("pkg", "1.0", uploaded=5, filename="pkg-1.0-a.whl"),
    ]
    assert [r.filename for r in rank_releases(data)] == [
        "pkg-1.0.0.tar.gz",
        "pkg-1.0-a.whl",
        "pkg-1.0-b.whl",
    ]


def test_identical_releases_keep_input_order():
    a = rel("pkg", "1.0", uploaded=1, filename="same")
    b = rel("pkg", "1.0", uploaded=1, filename="same")
    c = rel("pkg", "2.0", uploaded=1, filename="other")
    ranked = rank_releases([a, c, b])
    assert ranked[0] is c and ranked[1] is a and ranked[2] is b


def test_yanked_and_input_not_modified():
    data = [rel("pkg", "2.0", yanked=True), rel("pkg", "1.0")]
    snapshot = list(data)
    assert names(rank_releases(data)) == [("pkg", "1.0")]
    assert names(rank_releases(data, include_yanked=True)) == [("pkg", "2.0"), ("pkg", "1.0")]
    assert data == snapshot


def test_prereleases_ordered_and_latest_skips_them():
    data = [
        rel("pkg", "2.0rc1"),
        rel("pkg", "2.0.dev3"),
        rel("pkg", "1.5.post1"),
        rel("pkg", "2.0b2"),
        rel("pkg", "1!0.1"),
        rel("only-pre", "0.1a1"),
        rel("only-pre", "0.1a2"),
    ]
    assert [r.version for r in rank_releases(data) if r.name == "pkg"] == [
        "1!0.1",
        "2.0rc1",
        "2.0b2",
        "2.0.dev3",
        "1.5.post1",
    ]
    data.remove(data[4])
    assert names(latest_releases(data)) == [("only-pre", "0.1a2"), ("pkg", "1.5.post1")]
    assert names(latest_releases(data, allow_prereleases=True)) == [
        ("only-pre", "0.1a2"),
        ("pkg", "2.0rc1"),
    ]


def test_render_table_aligns_columns():
    table = render_table([rel("pkg", "1.0", uploaded=86400 * 365), rel("longer-name", "10.2.3")])
    lines = table.splitlines()
    assert lines[0].startswith("project      version")
    assert "1971-01-01" in lines[1]
    assert lines[2].startswith("longer-name  10.2.3")
