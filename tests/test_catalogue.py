"""The shipped indicator catalogue and the YAML <-> Catalogue mapping."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humsec.errors import ValidationError
from humsec.model.catalogue import Catalogue, Indicator
from humsec.model.panel import DIMENSIONS


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return Catalogue.default()


def test_shipped_catalogue_loads(shipped):
    # the shipped catalogue is the data release's: versioned by the release
    from humsec.data.release import load_recipe

    assert shipped.version == load_recipe().release
    assert len(shipped) >= 60
    assert {"pop", "pop_total", "u5mr", "homicide_rate", "conflict_deaths", "undernourishment"} <= set(shipped.codes)
    assert not any(c.startswith(("hfi_", "esi_")) for c in shipped.codes)   # stale 2016 panel gone


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_every_dimension_has_six_indicators(shipped, dimension):
    assert len(shipped.by_dimension(dimension)) >= 6


def test_shipped_entries_are_documented(shipped):
    for ind in shipped:
        assert ind.source and ind.licence and ind.notes, ind.code
        assert ind.direction in (1, -1)
    # percentages are bounded, rates of deaths are not negative
    for ind in shipped:
        if ind.unit.startswith("percent of") and "Can exceed 100" not in ind.notes:
            assert (ind.valid_min, ind.valid_max) == (0, 100), ind.code
        if "deaths" in ind.unit:
            assert ind.valid_min == 0 and ind.direction == -1, ind.code
    assert shipped["u5mr"].sdg == "3.2.1"
    assert shipped["mmr"].sdg == "3.1.1"
    assert shipped["homicide_rate"].sdg == "16.1.1"
    assert shipped["undernourishment"].sdg == "2.1.1"
    assert "<2.5" in shipped["undernourishment"].notes        # the censored FAO floor is disclosed


def test_shipped_round_trip(shipped):
    again = Catalogue.from_yaml(shipped.to_yaml())
    assert list(again) == list(shipped)
    assert again.version == shipped.version


# -- property: any valid catalogue survives YAML ---------------------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_float = st.floats(allow_nan=False, allow_infinity=False, width=64)

indicators = st.builds(
    Indicator,
    code=st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
    name=_text,
    unit=_text,
    dimension=st.sampled_from((*DIMENSIONS, "context")),
    direction=st.sampled_from((1, -1)),
    sdg=st.none() | st.from_regex(r"[0-9]{1,2}\.[0-9a-z]{1,2}(\.[0-9]{1,2})?", fullmatch=True),
    source=_text,
    licence=_text,
    notes=_text,
    tags=st.lists(_text, max_size=4).map(tuple),
    valid_min=st.none() | _float,
    valid_max=st.none() | _float,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(indicators, max_size=6, unique_by=lambda i: i.code))
def test_yaml_round_trip_property(items):
    cat = Catalogue(items)
    again = Catalogue.from_yaml(cat.to_yaml())
    assert list(again) == list(cat)
    assert again.to_dict() == cat.to_dict()


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_yaml_round_trip_nel(char):
    cat = Catalogue([Indicator(code="a", name="n", unit="u", dimension="health", direction=1,
                               source="s", licence="l", notes=f"x{char}y")])
    assert list(Catalogue.from_yaml(cat.to_yaml())) == list(cat)


# -- located errors --------------------------------------------------------------------
def _entry(code: str, **over) -> dict:
    e = {
        "code": code,
        "name": code.title(),
        "unit": "score",
        "dimension": "health",
        "direction": 1,
        "source": "test",
        "licence": "CC0-1.0",
    }
    e.update(over)
    return e


def _fields(exc: ValidationError) -> set[str]:
    return {i.field for i in exc.issues}


def test_invalid_direction_is_located():
    raw = {"version": "1", "indicators": [_entry(f"i{n}") for n in range(5)]}
    raw["indicators"][3]["direction"] = 0
    with pytest.raises(ValidationError) as ei:
        Catalogue.from_dict(raw, file="cat.yaml")
    assert _fields(ei.value) == {"indicators[3].direction"}
    assert ei.value.issues[0].file == "cat.yaml"
    assert "indicators[3].direction" in str(ei.value)


def test_all_problems_reported_with_locations():
    raw = {"version": "1", "indicators": [_entry(f"i{n}") for n in range(7)]}
    raw["indicators"][0]["dimension"] = "wellbeing"
    raw["indicators"][1]["code"] = "Bad Code"
    del raw["indicators"][2]["source"]
    raw["indicators"][3]["sdg"] = "sixteen"
    raw["indicators"][4]["colour"] = "red"
    raw["indicators"][6]["code"] = "i5"  # duplicate of a valid entry
    text = yaml.safe_dump(raw)
    with pytest.raises(ValidationError) as ei:
        Catalogue.from_yaml(text, file="x.yaml")
    fields = _fields(ei.value)
    assert {
        "indicators[0].dimension",
        "indicators[1].code",
        "indicators[2].source",
        "indicators[3].sdg",
        "indicators[4].colour",
        "indicators[6].code",
    } == fields
    assert all(i.file == "x.yaml" for i in ei.value.issues)


def test_shipped_entry_broken_is_located(shipped):
    raw = copy.deepcopy(shipped.to_dict())
    raw["indicators"][3]["direction"] = "up"
    with pytest.raises(ValidationError) as ei:
        Catalogue.from_dict(raw)
    assert "indicators[3].direction" in _fields(ei.value)


@pytest.mark.parametrize("text", ["indicators: [", "just a string", "indicators: {a: 1}"])
def test_not_a_catalogue(text):
    with pytest.raises(ValidationError):
        Catalogue.from_yaml(text, file="bad.yaml")
