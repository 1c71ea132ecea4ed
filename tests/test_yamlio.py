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
