"""Located errors for user-supplied text and YAML files (humsec.yamlio)."""

from __future__ import annotations

import pytest

from humsec.errors import HumsecError, ValidationError
from humsec.yamlio import load_yaml, read_text


def test_read_text_errors_name_the_file(tmp_path):
    f = tmp_path / "spec.yaml"
    with pytest.raises(HumsecError, match=r"spec.yaml: spec file not found"):
        read_text(f, "spec file")
    with pytest.raises(HumsecError, match="is a directory; expected a spec file"):
        read_text(tmp_path, "spec file")
    f.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(HumsecError, match="cannot read spec file"):
        read_text(f, "spec file")
    f.write_text("a: 1\n", encoding="utf-8")
    assert read_text(f, "spec file") == "a: 1\n"


def test_load_yaml_locates_the_line():
    with pytest.raises(ValidationError) as e:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", "my.yaml")
    issue = e.value.issues[0]
    assert issue.file == "my.yaml" and issue.row in (2, 3, 4) and "not valid YAML" in issue.message
    assert load_yaml("a: [1, 2]", "x") == {"a": [1, 2]}
    # never executes tags (safe loader)
    with pytest.raises(ValidationError):
        load_yaml("!!python/object/apply:os.system ['echo hi']", "evil.yaml")


def _billion_laughs(key="version"):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join([*lines, f"{key}: *a9", "indicators: []", ""])


def _peak_mb(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def test_billion_laughs_in_catalogue_version_is_rejected_fast(tmp_path):
    import time

    from humsec.model.catalogue import Catalogue

    f = tmp_path / "cat.yaml"
    f.write_text(_billion_laughs(), encoding="utf-8")

    def load():
        with pytest.raises(ValidationError, match=r"cat.yaml, row \d+: YAML document too large.*alias"):
            Catalogue.from_file(f)

    t0 = time.perf_counter()
    assert _peak_mb(load) < 200
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("text,match", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),       # libyaml segfaulted here
    ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), "nested too deeply"),
    ("a: &x [b, *x]", "recursive YAML alias"),
    ("n: " + "1" * 6000, "a value cannot be read"),            # int() digit limit
    ("d: 2020-13-45", "a value cannot be read"),                # bad timestamp
    ("f: !!float nope", "a value cannot be read"),
    ("? [a]\n: 1", "unhashable"),
])
def test_yaml_bombs_and_bad_scalars_are_located_errors(text, match):
    with pytest.raises(ValidationError, match=match) as e:
        load_yaml(text, "bomb.yaml")
    assert e.value.issues[0].file == "bomb.yaml"


def test_shared_anchors_below_the_limit_still_load():
    doc = "base: &b {x: 1, y: [1, 2]}\none: *b\ntwo: *b\n"
    assert load_yaml(doc, "ok.yaml")["two"] == {"x": 1, "y": [1, 2]}


def test_latin1_missing_directory_and_too_large_name_the_file(tmp_path):
    from humsec.index.spec import IndexSpec
    from humsec.model.catalogue import Catalogue
    from humsec.oversight.io import read_commitments

    lat = tmp_path / "latin.yaml"
    lat.write_bytes("version: '1'\nindicators: []\nname: caf\xe9\n".encode("latin-1"))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" + b"#" * (17 * 2**20))
    cat = Catalogue.default()
    readers = [Catalogue.from_file, IndexSpec.from_file, lambda p: read_commitments(p, catalogue=cat)]
    for read in readers:
        with pytest.raises(HumsecError, match=r"latin.yaml: cannot read .*not UTF-8.*line 3"):
            read(lat)
        with pytest.raises(HumsecError, match=r"nope.yaml"):
            read(tmp_path / "nope.yaml")
        with pytest.raises(HumsecError, match=r"is a directory"):
            read(tmp_path)
        with pytest.raises(HumsecError, match=r"big.yaml.*expected at most"):
            read(big)
        with pytest.raises(HumsecError, match=r"deep.yaml.*nested too deeply"):
            deep = tmp_path / "deep.yaml"
            deep.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
            read(deep)


def test_catalogue_version_must_be_a_scalar():
    from humsec.model.catalogue import Catalogue

    with pytest.raises(ValidationError, match="version: expected a version number or text"):
        Catalogue.from_yaml("version: [1, 2]\nindicators: []\n", file="c.yaml")


def test_an_empty_tagged_timestamp_is_a_located_error():
    """Found by benchmarks/fuzz_import.py (commitments, seed 7): PyYAML's timestamp
    constructor raises AttributeError on an empty ``!!timestamp``."""
    from humsec.errors import ValidationError
    from humsec.yamlio import load_yaml

    with pytest.raises(ValidationError, match="c.yaml.*a value cannot be read"):
        load_yaml("deadline: !!timestamp\n", file="c.yaml")
