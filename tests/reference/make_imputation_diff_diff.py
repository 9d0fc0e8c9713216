"""Regenerate tests/reference/imputation_df_het_diff_diff.json: a second,
full-precision reference for ImputationDiD from a Python peer package.

Provenance: diff-diff (PyPI ``diff-diff``; version written into the JSON),
``diff_diff.ImputationDiD``, an independent implementation of Borusyak,
Jaravel & Spiess (2024) with Theorem 3 standard errors. R didimputation's
README prints the df_het numbers to 7 significant digits only
(tests/reference/didimputation_df_het.py); this file adds all digits and
configurations the README lacks (a covariate, state clusters, anticipation).

Data: tests/data/df_het.csv.gz (R didimputation's df_het) plus one
deterministic covariate ``x = ((unit * 7919) % 101) / 101 * (year - 2005) / 10``.

Command (from the repository root; diff-diff is not a project dependency,
so it was installed aside)::

    pip install --target /tmp/dd --no-deps diff-diff
    PYTHONPATH=/tmp/dd .venv/bin/python tests/reference/make_imputation_diff_diff.py

Known difference, not stored: with ``anticipation=1`` diff-diff's overall ATT
also averages the anticipation period (t = g - 1); policyeval's ``overall``
averages t >= g only, so only the event-time estimates are compared there.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import pandas as pd

import diff_diff
from diff_diff import ImputationDiD

HERE = pathlib.Path(__file__).parent
OUT = HERE / "imputation_df_het_diff_diff.json"


def main() -> None:
    df = pd.read_csv(HERE.parent / "data" / "df_het.csv.gz")
    df["x"] = ((df["unit"] * 7919) % 101) / 101 * (df["year"] - 2005) / 10
    kw = dict(outcome="dep_var", unit="unit", time="year", first_treat="g")
    records = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ImputationDiD().fit(df, **kw)
        records.append({"config": "static", "terms": {"overall": [r.overall_att, r.overall_se]}})
        r = ImputationDiD(cluster="state").fit(df, covariates=["x"], **kw)
        records.append({"config": "static_covariate_x_cluster_state",
                        "terms": {"overall": [r.overall_att, r.overall_se]}})
        r = ImputationDiD().fit(df, aggregate="event_study", **kw)
        records.append({"config": "event_study", "terms": {
            str(h): [v["effect"], v["se"]] for h, v in sorted(r.event_study_effects.items()) if h >= 0}})
        r = ImputationDiD(anticipation=1).fit(df, aggregate="event_study", **kw)
        records.append({"config": "event_study_anticipation_1", "terms": {
            str(h): [v["effect"], v["se"]] for h, v in sorted(r.event_study_effects.items()) if h >= -1}})
    OUT.write_text(json.dumps({"tool": "diff-diff", "version": diff_diff.__version__,
                               "records": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
