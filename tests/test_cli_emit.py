"""CSV printed by every CLI command reads back to exactly what was meant (formula-safe)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from humsec.cli.common import emit
from humsec.data.export import safe_frame

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(text, st.integers(-5, 5)), min_size=1, max_size=6))
def test_emit_csv_round_trips(rows):
    df = pd.DataFrame(rows, columns=["label", "n"])
    buf = io.StringIO()
    with redirect_stdout(buf):
        emit(df, "csv")
    back = pd.read_csv(io.StringIO(buf.getvalue()), keep_default_na=False, dtype={"label": str})
    expected = safe_frame(df)
    assert back["label"].tolist() == [str(v) for v in expected["label"]]
    assert back["n"].tolist() == df["n"].tolist()
