"""Published output of R did2s on its own ``df_het`` (static effect).

Source: README.md of github.com/kylebutts/did2s at commit
078f717c7e29ab5ce968cdff7c6bb55f8705ae9d (README rendered with did2s v1.1.0, as its
start-up message prints), section "Estimate Two-stage Difference-in-Differences":

    data("df_het", package = "did2s")
    static <- did2s(df_het, yname = "dep_var", first_stage = ~ 0 | state + year,
                    second_stage = ~ i(treat, ref = FALSE), treatment = "treat",
                    cluster_var = "state")
    fixest::etable(static)
    #> treat = TRUE    2.152*** (0.0476)
    #> Observations               46,500

Data: tests/data/did2s_df_het.csv.gz — did2s's df_het (1,500 units x 1990-2020,
46,500 rows), a different draw from didimputation's df_het (tests/data/df_het.csv.gz).
Printed to 3 and 3 significant digits: tolerance half a unit of the last printed digit.
The event-study coefficients of the same README are only plotted, not printed; for
them (and more digits) see did2s_pyfixest.json, made by make_did2s_pyfixest.py.
"""

STATIC = (2.152, 0.0476)
TOL = (0.0005, 0.00005)
NOBS = 46_500
