"""The API's oversight schemas are derived from the oversight dataclasses
(:func:`humsec.api.schemas.model_from_dataclass`): every field of
:class:`humsec.oversight.status.TargetStatus` and :class:`humsec.oversight.models.Versioned`
is a required member of the schema in the OpenAPI document, and a real answer validates."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pydantic import ValidationError

from humsec.api import create_app
from humsec.api import schemas as S
from humsec.oversight.models import Versioned
from humsec.oversight.status import TargetStatus
from humsec.settings import Settings

DERIVED = [(TargetStatus, "TargetStatus"), (Versioned, "VersionedCommitment"),
           (Versioned, "VersionedInstrument"), (Versioned, "CommitmentVersion")]


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    app = create_app(Settings(home=tmp_path_factory.mktemp("schemas_home"), progress=False))
    return app.openapi()["components"]["schemas"]


@pytest.mark.parametrize("cls, name", DERIVED)
def test_every_dataclass_field_is_a_required_member(components, cls, name):
    schema = components[name]
    names = {f.name for f in dataclasses.fields(cls)}
    assert names - set(schema["properties"]) == set(), f"{name} lacks fields of {cls.__name__}"
    assert names - set(schema["required"]) == set()
    assert schema["additionalProperties"] is False


def _status(**change) -> TargetStatus:
    base = TargetStatus(commitment_id="c1", commitment_version=2, target_key="t1", unit="KEN", indicator="u5mr",
                        direction=-1, status="limited_progress", as_of=2020, base_year=2015, base_value=50.0,
                        latest_value=45.0, target_value=25.0, deadline=dt.date(2030, 12, 31),
                        cagr_observed=-0.0209, cagr_required=-0.0446, ratio=0.47, baseline_source="data",
                        evidence=((2015, 50.0), (2020, 45.0)), data_hash="abc", note="", score=-1.0)
    return dataclasses.replace(base, **change)


def test_a_status_as_sent_validates_and_has_exactly_the_members():
    sent = _status(cagr_required=float("nan")).to_dict()  # NaN is sent as null
    model = S.TargetStatus.model_validate(sent)
    assert set(sent) == set(S.TargetStatus.model_fields)
    assert model.model_dump()["evidence"] == [[2015, 50.0], [2020, 45.0]]
    with pytest.raises(ValidationError):
        S.TargetStatus.model_validate({k: v for k, v in sent.items() if k != "data_hash"})


def test_a_field_added_to_the_dataclass_appears_in_the_model():
    @dataclasses.dataclass(frozen=True)
    class Wider(TargetStatus):
        reviewer: str = ""

    model = S.model_from_dataclass(Wider, "Wider", overrides={"evidence": list[list[float]]})
    assert "reviewer" in model.model_json_schema()["required"]
    assert model.model_fields["ratio"].annotation == S.Number
    with pytest.raises(TypeError, match="no field"):
        S.model_from_dataclass(Wider, "Bad", overrides={"nope": int})
    with pytest.raises(TypeError, match="not a dataclass"):
        S.model_from_dataclass(dict, "Bad")
