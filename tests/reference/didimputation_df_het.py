"""Published output of R didimputation on its ``df_het`` data.

Data
----
``tests/data/df_het.csv.gz``: R didimputation's ``data/df_het.rda``
(github.com/kylebutts/didimputation), 31,000 rows = 1,000 units x 1990-2020,
cohorts g = 2000, 2010 and never treated (g = 0). Simulated by its author with
``did2s::gen_data(panel = c(1990, 2020), g1 = 2000, g2 = 2010, g3 = 0,
te1 = 2, te2 = 1, te3 = 0, te_m1 = 0.05, te_m2 = 0.15, te_m3 = 0)``
(didimputation R/data.R). The project's development copy is a CSV export of that
.rda (10 columns; sha256 6abf7c0aaef5e35ce7a3b941689131eb7cf831c328669a5cdd4b17cffe57bb1b);
it was read with ``pandas.read_csv`` and rewritten with
``to_csv(..., compression="gzip")`` (314 kB); reading the .gz back gives a
frame equal (``DataFrame.equals``) to the original CSV. did2s ships a *different* draw also called
df_het; these numbers are for didimputation's.

Reference numbers
-----------------
didimputation README.md at commit 0a327749a515292574a7bf54d03fa816da73ca75
(github.com/kylebutts/didimputation, DESCRIPTION Version 0.3.0), which loads
``data("df_het", package = "didimputation")``:

Static::

    did_imputation(data = df_het, yname = "dep_var", gname = "g",
                   tname = "year", idname = "unit")
    #>  term estimate  std.error conf.low conf.high
    #> treat 2.262952 0.03139684 2.201414   2.32449

Event study::

    did_imputation(data = df_het, yname = "dep_var", gname = "g",
                   tname = "year", idname = "unit",
                   horizon = TRUE, pretrends = -5:-1)

printed below (estimate, std.error). Horizons 0..20 are imputation
estimates with BJS Theorem 3 standard errors (didimputation's cohort x
event-time averaging). Terms -5..-1 are the pre-trend regression (BJS
Test 1: fixest::feols of dep_var on lead dummies + unit + year FE on the
untreated observations); their identical standard errors 0.07634962 are
classical OLS ("iid") standard errors, reproduced by statsmodels OLS with
dummies during development, hence ``pretrend_vcov="iid"`` in that test.
Printed to 7 significant digits: relative tolerance 1e-6.
"""

STATIC = (2.262952, 0.03139684)

PRETRENDS = {
    -5: (-0.06412085, 0.07634962),
    -4: (-0.01201577, 0.07634962),
    -3: (-0.01387197, 0.07634962),
    -2: (0.05103140, 0.07634962),
    -1: (0.02022464, 0.07634962),
}

HORIZONS = {
    0: (1.51314201, 0.07547736),
    1: (1.66384318, 0.07675141),
    2: (1.86436720, 0.07450151),
    3: (1.91872093, 0.07471704),
    4: (1.87322387, 0.07418170),
    5: (1.87844597, 0.07567190),
    6: (2.14373139, 0.07632691),
    7: (2.23777696, 0.07610842),
    8: (2.33650066, 0.07446268),
    9: (2.34352836, 0.07471679),
    10: (2.53443351, 0.08109550),
    11: (2.47944533, 0.11953547),
    12: (2.63493727, 0.11531779),
    13: (2.94449757, 0.11047299),
    14: (2.78171206, 0.11466367),
    15: (2.71470743, 0.12030494),
    16: (2.88065382, 0.11563154),
    17: (2.99383855, 0.11438496),
    18: (2.64616896, 0.11545789),
    19: (2.87530636, 0.11405840),
    20: (2.90465651, 0.11320219),
}

RTOL = 1e-6
