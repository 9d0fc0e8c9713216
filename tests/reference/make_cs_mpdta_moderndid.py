"""Regenerate tests/reference/cs_mpdta_moderndid.json (reference numbers for CallawaySantAnna).

Provenance: moderndid (PyPI), the Python port of R ``did`` whose own test-suite
(tests/did/test_r_validation.py in jordandeklerk/moderndid) checks it against
R ``did``. Data: mpdta as shipped in the moderndid wheel
(moderndid/core/datasets/mpdta_long.pkl.gz), identical to R ``did::mpdta``.

Command (from the repository root)::

    .venv/bin/python tests/reference/make_cs_mpdta_moderndid.py

Every configuration is run with ``boot=False`` so the standard errors are the
analytic influence-function ones. The moderndid version is written into the file.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np

import moderndid
from moderndid import aggte, att_gt, load_mpdta

OUT = pathlib.Path(__file__).with_name("cs_mpdta_moderndid.json")


def _floats(x):
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(x, dtype=float).ravel()]


def main() -> None:
    data = load_mpdta()
    records = []
    for xformla in (None, "~lpop"):
        for method in ("dr", "ipw", "reg"):
            for control in ("nevertreated", "notyettreated"):
                for base in ("varying", "universal"):
                    if base == "universal" and (xformla is not None or method != "dr"):
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = att_gt(data=data, yname="lemp", tname="year", idname="countyreal",
                                     gname="first.treat", xformla=xformla, est_method=method,
                                     control_group=control, base_period=base, boot=False)
                        rec = {
                            "covariates": [] if xformla is None else ["lpop"],
                            "method": method, "control_group": control, "base_period": base,
                            "command": (f"att_gt(data=load_mpdta(), yname='lemp', tname='year', "
                                        f"idname='countyreal', gname='first.treat', xformla={xformla!r}, "
                                        f"est_method={method!r}, control_group={control!r}, "
                                        f"base_period={base!r}, boot=False)"),
                            "att_gt": {"group": _floats(res.groups), "time": _floats(res.times),
                                       "estimate": _floats(res.att_gt), "std_error": _floats(res.se_gt)},
                            "aggregations": {},
                        }
                        for kind in ("simple", "group", "calendar", "dynamic"):
                            agg = aggte(res, type=kind, boot=False)
                            entry = {"overall_estimate": float(agg.overall_att),
                                     "overall_std_error": float(agg.overall_se)}
                            if kind != "simple":
                                entry["term"] = _floats(agg.event_times)
                                entry["estimate"] = _floats(agg.att_by_event)
                                entry["std_error"] = _floats(agg.se_by_event)
                            rec["aggregations"][kind] = entry
                        if xformla is None and method == "dr" and control == "nevertreated" and base == "varying":
                            for kw in ({"min_e": -2, "max_e": 2}, {"balance_e": 1}):
                                agg = aggte(res, type="dynamic", boot=False, **kw)
                                rec["aggregations"]["dynamic_" + "_".join(f"{k}{v}" for k, v in kw.items())] = {
                                    "kwargs": kw,
                                    "overall_estimate": float(agg.overall_att),
                                    "overall_std_error": float(agg.overall_se),
                                    "term": _floats(agg.event_times), "estimate": _floats(agg.att_by_event),
                                    "std_error": _floats(agg.se_by_event)}
                    records.append(rec)
                    print(method, control, base, xformla, "done", flush=True)
    # extra specifications: anticipation, sampling weights, repeated cross-sections with covariates
    pdata = data.to_pandas()
    pdata["w"] = np.exp(pdata["lpop"] - pdata["lpop"].mean())
    extras = [
        ("anticipation1_reg_notyettreated", dict(anticipation=1, est_method="reg", control_group="notyettreated")),
        ("weights_w_dr_lpop", dict(weightsname="w", xformla="~lpop", est_method="dr")),
    ] + [(f"rc_{m}_lpop_notyettreated", dict(panel=False, est_method=m, xformla="~lpop",
                                             control_group="notyettreated")) for m in ("dr", "ipw", "reg")]
    extra_out = {}
    for name, kw in extras:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = att_gt(data=pdata, yname="lemp", tname="year", idname="countyreal", gname="first.treat",
                         boot=False, **kw)
            entry = {"kwargs": kw,
                     "command": f"att_gt(data=mpdta + w=exp(lpop - mean(lpop)), yname='lemp', tname='year', "
                                f"idname='countyreal', gname='first.treat', boot=False, **{kw!r})",
                     "att_gt": {"group": _floats(res.groups), "time": _floats(res.times),
                                "estimate": _floats(res.att_gt), "std_error": _floats(res.se_gt)}}
            if name.startswith("anticipation"):
                agg = aggte(res, type="dynamic", boot=False)
                entry["dynamic"] = {"overall_estimate": float(agg.overall_att),
                                    "overall_std_error": float(agg.overall_se)}
        extra_out[name] = entry
        print(name, "done", flush=True)
    OUT.write_text(json.dumps({
        "provenance": {
            "tool": "moderndid (PyPI), Python port of R did, validated by its authors against R did",
            "version": moderndid.__version__,
            "data": "mpdta from moderndid/core/datasets/mpdta_long.pkl.gz (R did::mpdta, 500 counties x 2003-2007)",
            "generator": "tests/reference/make_cs_mpdta_moderndid.py",
        },
        "records": records,
        "extras": extra_out,
        "notes": {
            "weights": "moderndid 0.2.0 does not carry sampling weights into its aggregation (its result's "
                       "weights_ind is None), so only the weighted ATT(g,t) are used as reference.",
            "rc": "For panel=False moderndid 0.2.0 divides the observation-level influence function "
                  "(scaled by 2,500 observations) by the 500 ids, so its standard errors are 5x the "
                  "cross-section ones; the tests compare std_error * 500 / 2500.",
        },
    }, indent=1))


if __name__ == "__main__":
    main()
