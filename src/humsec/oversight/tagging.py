"""SDG and human-security tagging of budget lines: transparent rules plus a classifier.

Rules
-----
:class:`TaggingRules` are keyword lists per SDG target (each target belongs to one
human-security dimension, or none) and per dimension, shipped in
``humsec/oversight/tagging_rules.yaml`` and overridable by the user's own YAML file (see
that file's header). :meth:`TaggingRules.tag` tags a line with every target (and
dimension) whose keyword occurs in its programme, ministry or description as a whole word
or phrase, and records the matched keywords as evidence - every rule tag can be traced.

Classifier
----------
:class:`TagClassifier` suggests a dimension (and an SDG target) with a confidence for
lines the rules miss: TF-IDF of word uni- and bi-grams and a multinomial logistic
regression (scikit-learn), trained on the lines reviewers confirmed or corrected and on
rule-tagged lines (a reviewed tag wins). The confidence is the predicted probability of
the suggested class. Training is deterministic for a given ``seed`` (recorded in the
model); a reviewer confirms or corrects every suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.model.panel import DIMENSIONS
from humsec.oversight.models import Tag
from humsec.yamlio import load_yaml, read_text

__all__ = ["DEFAULT_SEED", "RuleTarget", "Suggestion", "TagClassifier", "TaggingRules", "line_text",
           "suggest_tags"]

DEFAULT_SEED = 20240101
#: Classifier suggestions below this confidence are not used as tags.
MIN_CONFIDENCE = 0.5
_SDG_TARGET = re.compile(r"^\d{1,2}\.[0-9a-z]{1,2}$")


def _norm(text: str) -> str:
    """Lower case, letters and digits only, single spaces (``"COVID-19"`` -> ``"covid 19"``)."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).lower().replace("'", "")).split())


def line_text(programme: str, ministry: str, description: str) -> str:
    """The text of a budget line that rules and classifier read."""
    return " | ".join(str(x) for x in (programme, ministry, description) if x)


@dataclass(frozen=True)
class RuleTarget:
    """Keywords of one SDG target and its human-security dimension (or None)."""

    target: str
    dimension: str | None
    name: str
    keywords: tuple[str, ...]


def _pattern(keywords: Iterable[str]) -> re.Pattern | None:
    words = sorted({_norm(k) for k in keywords if _norm(k)}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<![0-9a-z])(" + "|".join(re.escape(w) for w in words) + r")(?:e?s)?(?![0-9a-z])")


class TaggingRules:
    """Keyword rules per SDG target and dimension (immutable).

    Use :meth:`default` for the shipped rules and :meth:`with_overrides` to apply a
    user's file.
    """

    __slots__ = ("targets", "dimension_keywords", "source", "_patterns")

    def __init__(self, targets: Sequence[RuleTarget], dimension_keywords: Mapping[str, Sequence[str]],
                 source: str = ""):
        self.targets = tuple(targets)
        self.dimension_keywords = MappingProxyType({d: tuple(k) for d, k in dimension_keywords.items()})
        self.source = source
        self._patterns = ([(t, _pattern(t.keywords)) for t in self.targets],
                          [(d, _pattern(k)) for d, k in self.dimension_keywords.items()])

    # -- loading -----------------------------------------------------------------------
    @staticmethod
    def _parse(raw: Any, file: str, *, partial: bool) -> tuple[dict[str, RuleTarget | None], dict[str, list[str]]]:
        issues: list[ValidationIssue] = []
        if not isinstance(raw, dict):
            raise ValidationError(ValidationIssue("expected a mapping with 'targets' and/or 'dimensions'", file=file))
        unknown = set(raw) - {"version", "targets", "dimensions"}
        if unknown:
            issues.append(ValidationIssue(f"unknown section(s) {', '.join(sorted(unknown))}", file=file))
        targets: dict[str, RuleTarget | None] = {}
        for key, entry in (raw.get("targets") or {}).items():
            key = str(key)
            loc = f"targets.{key}"
            if not _SDG_TARGET.fullmatch(key):
                issues.append(ValidationIssue(f"'{key}' is not an SDG target (expected e.g. '3.2')", file=file,
                                              field=loc))
                continue
            if not isinstance(entry, dict):
                issues.append(ValidationIssue("expected a mapping", file=file, field=loc))
                continue
            if partial and entry.get("remove") is True:
                targets[key] = None
                continue
            bad = set(entry) - {"dimension", "name", "keywords"}
            if bad:
                issues.append(ValidationIssue(f"unknown field(s) {', '.join(sorted(bad))}", file=file, field=loc))
            dim = entry.get("dimension")
            if dim is not None and dim not in DIMENSIONS:
                issues.append(ValidationIssue(f"unknown dimension '{dim}'; expected one of {', '.join(DIMENSIONS)} "
                                              "or null", file=file, field=loc + ".dimension"))
            kws = entry.get("keywords")
            if not isinstance(kws, list) or not kws or not all(isinstance(k, str) and _norm(k) for k in kws):
                issues.append(ValidationIssue("expected a non-empty list of keywords (text)", file=file,
                                              field=loc + ".keywords"))
                continue
            targets[key] = RuleTarget(key, dim, str(entry.get("name", "")), tuple(kws))
        dims: dict[str, list[str]] = {}
        for d, kws in (raw.get("dimensions") or {}).items():
            if d not in DIMENSIONS:
                issues.append(ValidationIssue(f"unknown dimension '{d}'", file=file, field=f"dimensions.{d}"))
                continue
            if not isinstance(kws, list) or not all(isinstance(k, str) and _norm(k) for k in kws):
                issues.append(ValidationIssue("expected a list of keywords (text)", file=file, field=f"dimensions.{d}"))
                continue
            dims[d] = list(kws)
        if issues:
            raise ValidationError(issues)
        return targets, dims

    @staticmethod
    def _load(text: str, file: str) -> Any:
        return load_yaml(text, file)

    @classmethod
    def default(cls) -> "TaggingRules":
        """The shipped rules."""
        res = resources.files("humsec.oversight") / "tagging_rules.yaml"
        file = "humsec/oversight/tagging_rules.yaml"
        targets, dims = cls._parse(cls._load(res.read_text(encoding="utf-8"), file), file, partial=False)
        return cls([t for t in targets.values() if t is not None], dims, source="shipped")

    def with_overrides(self, path: str | Path) -> "TaggingRules":
        """New rules with a user's file applied (entries replace shipped ones by key)."""
        path = Path(path)
        if not path.exists():
            raise HumsecError(f"no rules file '{path}'")
        targets, dims = self._parse(self._load(read_text(path, "rules file"), path.name), path.name, partial=True)
        merged = {t.target: t for t in self.targets}
        for key, t in targets.items():
            if t is None:
                merged.pop(key, None)
            else:
                merged[key] = t
        return TaggingRules(list(merged.values()), {**self.dimension_keywords, **dims},
                            source=f"{self.source} + {path.name}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> "TaggingRules":
        """The shipped rules, with ``path``'s overrides if given."""
        rules = cls.default()
        return rules.with_overrides(path) if path is not None else rules

    def to_frame(self) -> pd.DataFrame:
        """The rules as a table (``target, dimension, name, keywords``)."""
        rows = [{"target": t.target, "dimension": t.dimension or "", "name": t.name,
                 "keywords": ", ".join(t.keywords)} for t in self.targets]
        rows += [{"target": "", "dimension": d, "name": "(dimension keywords)", "keywords": ", ".join(k)}
                 for d, k in self.dimension_keywords.items()]
        return pd.DataFrame(rows)

    # -- tagging -----------------------------------------------------------------------
    def tag(self, text: str) -> Tag | None:
        """The rule tag of a text, or None if no keyword matches.

        Targets are listed in the order of their first match; dimensions follow the
        targets' (then the dimension keywords'). ``evidence`` holds ``"3.b: vaccination"``
        style entries for every match.
        """
        t = _norm(text)
        hits: list[tuple[int, str, str | None, str]] = []
        for rt, pat in self._patterns[0]:
            m = pat.search(t) if pat is not None else None
            if m:
                hits.append((m.start(), rt.target, rt.dimension, m.group(1)))
        dim_hits: list[tuple[int, str, str]] = []
        for d, pat in self._patterns[1]:
            m = pat.search(t) if pat is not None else None
            if m:
                dim_hits.append((m.start(), d, m.group(1)))
        if not hits and not dim_hits:
            return None
        hits.sort()
        dim_hits.sort()
        targets = tuple(dict.fromkeys(h[1] for h in hits))
        dims = tuple(dict.fromkeys([h[2] for h in hits if h[2] is not None] + [h[1] for h in dim_hits]))
        evidence = tuple([f"{h[1]}: {h[3]}" for h in hits] + [f"{h[1]}: {h[2]}" for h in dim_hits])
        return Tag(sdg_targets=targets, dimensions=dims, source="rule", evidence=evidence)


# ---------------------------------------------------------------------------- classifier


@dataclass(frozen=True)
class Suggestion:
    """A classifier's suggestion for one line."""

    dimension: str
    confidence: float
    sdg_target: str | None
    sdg_confidence: float | None


class TagClassifier:
    """TF-IDF + logistic regression suggestions of a line's dimension and SDG target.

    Parameters
    ----------
    seed : int
        ``random_state`` of the regressions (with the deterministic L-BFGS solver the
        fit is reproducible; the seed is recorded so a different solver would be too).
    """

    def __init__(self, seed: int = DEFAULT_SEED):
        self.seed = int(seed)
        self._dim = None
        self._sdg = None
        self.n_train = 0

    @staticmethod
    def _pipeline(seed: int):
        # scikit-learn takes ~1 s to import: only when a classifier is trained
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            TfidfVectorizer(preprocessor=_norm, ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            LogisticRegression(C=10.0, max_iter=2000, random_state=seed))

    def fit(self, texts: Sequence[str], dimensions: Sequence[str | None],
            sdg_targets: Sequence[str | None]) -> "TagClassifier":
        """Train on labelled lines (None labels are left out of that model).

        Raises
        ------
        HumsecError
            Fewer than two distinct dimensions among the training lines.
        """
        x = np.asarray(list(texts), dtype=object)
        d = np.asarray([v if v else "" for v in dimensions], dtype=object)
        keep = d != ""
        if len(set(d[keep])) < 2:
            raise HumsecError("the classifier needs tagged or reviewed lines of at least two dimensions; "
                              f"it has {len(set(d[keep]))}")
        self._dim = self._pipeline(self.seed).fit(x[keep], d[keep])
        s = np.asarray([v if v else "" for v in sdg_targets], dtype=object)
        ks = s != ""
        self._sdg = self._pipeline(self.seed).fit(x[ks], s[ks]) if len(set(s[ks])) >= 2 else None
        self.n_train = int(keep.sum())
        return self

    def predict(self, texts: Sequence[str]) -> list[Suggestion]:
        """Suggestions for ``texts`` (the most probable class and its probability)."""
        if self._dim is None:
            raise HumsecError("the classifier is not trained")
        texts = list(texts)
        if not texts:
            return []
        pd_ = self._dim.predict_proba(texts)
        dcls = self._dim.classes_
        if self._sdg is not None:
            ps = self._sdg.predict_proba(texts)
            scls = self._sdg.classes_
        out = []
        for i in range(len(texts)):
            j = int(np.argmax(pd_[i]))
            sdg = conf = None
            if self._sdg is not None:
                k = int(np.argmax(ps[i]))
                sdg, conf = str(scls[k]), float(ps[i][k])
            out.append(Suggestion(str(dcls[j]), float(pd_[i][j]), sdg, conf))
        return out

    def probabilities(self, texts: Sequence[str]) -> pd.DataFrame:
        """Probability of every dimension for every text (rows: texts)."""
        if self._dim is None:
            raise HumsecError("the classifier is not trained")
        return pd.DataFrame(self._dim.predict_proba(list(texts)), columns=list(self._dim.classes_))


def suggest_tags(lines: pd.DataFrame, rules: TaggingRules, *, seed: int = DEFAULT_SEED,
                 classifier: bool = True, min_confidence: float = MIN_CONFIDENCE,
                 ) -> tuple[dict[int, Tag], list[str]]:
    """Automatic tags for the budget lines that no reviewer has decided.

    Parameters
    ----------
    lines : pandas.DataFrame
        From :meth:`OversightDB.budget_lines` (with the current ``review``,
        ``dimensions`` and ``sdg_targets`` of every line).
    rules : TaggingRules
    seed : int
        Classifier seed.
    classifier : bool
        Suggest tags for lines the rules miss.
    min_confidence : float
        Suggestions below it are still stored but with no dimension (left for review).

    Returns
    -------
    (dict, list of str)
        ``line_id -> Tag`` for every undecided line, and notes.
    """
    notes: list[str] = []
    texts = [line_text(r.programme, r.ministry, r.description) for r in lines.itertuples()]
    reviewed = lines["review"].isin(["confirmed", "corrected"]).to_numpy()
    rule_tags = [rules.tag(t) for t in texts]
    out: dict[int, Tag] = {}
    for lid, tag, rev in zip(lines["line_id"], rule_tags, reviewed):
        if not rev and tag is not None:
            out[int(lid)] = tag
    missing = [i for i, (tag, rev) in enumerate(zip(rule_tags, reviewed)) if not rev and tag is None]
    if not classifier or not missing:
        return out, notes
    # training set: reviewed lines (their decision) and rule-tagged lines
    tx, td, ts = [], [], []
    for i, text in enumerate(texts):
        if reviewed[i]:
            dims, sdgs = lines["dimensions"].iloc[i], lines["sdg_targets"].iloc[i]
        elif (tag := rule_tags[i]) is not None:
            dims, sdgs = tag.dimensions, tag.sdg_targets
        else:
            continue
        tx.append(text)
        td.append(dims[0] if dims else None)
        ts.append(sdgs[0] if sdgs else None)
    try:
        model = TagClassifier(seed).fit(tx, td, ts)
    except HumsecError as exc:
        notes.append(f"no classifier suggestions: {exc}")
        return out, notes
    for i, s in zip(missing, model.predict([texts[i] for i in missing])):
        ok = s.confidence >= min_confidence
        sdg_ok = ok and s.sdg_target is not None and s.sdg_confidence is not None and s.sdg_confidence >= min_confidence
        out[int(lines["line_id"].iloc[i])] = Tag(
            dimensions=(s.dimension,) if ok else (), sdg_targets=(s.sdg_target,) if sdg_ok and s.sdg_target is not None else (),
            source="classifier", confidence=round(s.confidence, 6),
            evidence=(f"suggested {s.dimension} ({s.confidence:.2f})"
                      + (f", SDG {s.sdg_target} ({s.sdg_confidence:.2f})" if s.sdg_target else "")
                      + ("" if ok else f"; below {min_confidence:.2f}: needs review"),
                      f"seed {seed}, trained on {model.n_train} lines"))
    notes.append(f"classifier trained on {model.n_train} lines (seed {seed}); {len(missing)} suggestion(s)")
    return out, notes
