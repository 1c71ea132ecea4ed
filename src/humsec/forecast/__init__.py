"""Prevention: early warning and honest forecasts.

* :mod:`humsec.forecast.detect` — deterioration detection on any series: robust change
  (median/MAD z of the year-on-year change against a country's own past and against its
  peers) and change points (PELT / binary segmentation via ``ruptures``).
* :mod:`humsec.forecast.alerts` — alert rules declared in YAML (a shipped default file and
  user files), validated with located errors; alerts carry a severity and an explanation
  (which indicators drove a dimension's fall).
* :mod:`humsec.forecast.series` — the series the detectors and models work on: every node
  of an index spec per country-year, UCDP conflict panels (Gleditsch-Ward codes mapped to
  ISO3), UNHCR displacement outflows, UNDP HDI.
* :mod:`humsec.forecast.scores` — proper scores (Brier, log score, CRPS, interval score),
  reliability bins and AUC-PR.
* :mod:`humsec.forecast.models` — probabilistic models (calibrated event probabilities,
  predictive quantiles) and the persistence / climatology baselines.
* :mod:`humsec.forecast.backtest` — rolling-origin evaluation without leakage and the
  accuracy ledger.
* :mod:`humsec.forecast.crises` — recall of known past crises, lead times and false-alarm
  rates.

Nothing here imports the report or CLI layers; nothing runs at import time.
"""
