"""Reference numbers for Rambachan & Roth (2023) sensitivity analysis (HonestDiD).

Chain kept whole (data -> command -> numbers):

Data: tests/data/ehec.csv (see tests/data/ehec_PROVENANCE.md).

Command (R, HonestDiD README.md, repo asheshrambachan/HonestDiD, file read at commit
02b541bb42b5d98d11e7803cd1caa0a0506434de; section "Example usage - Medicaid
expansions")::

    df_nonstaggered <- df %>% filter(year < 2016 & (is.na(yexp2) | yexp2 != 2015))
    df_nonstaggered <- df_nonstaggered %>% mutate(D = case_when(yexp2 == 2014 ~ 1, T ~ 0))
    twfe_results <- fixest::feols(dins ~ i(year, D, ref = 2013) | stfips + year,
                                  cluster = "stfips", data = df_nonstaggered)
    betahat <- summary(twfe_results)$coefficients
    sigma <- summary(twfe_results)$cov.scaled
    createSensitivityResults_relativeMagnitudes(betahat, sigma, numPrePeriods = 5,
        numPostPeriods = 2, Mbarvec = seq(0.5, 2, by = 0.5))
    createSensitivityResults(betahat, sigma, numPrePeriods = 5, numPostPeriods = 2,
        Mvec = seq(from = 0, to = 0.05, by = 0.01))

The README prints the two tibbles below (3 significant digits, R's pillar
rounding); it prints neither betahat nor sigma, so the tests recompute them from the
data (fixest small-sample clustering) and check them against pyfixest.

A second, independent printout of the same example comes from the Stata port
(repo mcaceresb/stata-honestdid, README.md at commit
0aa6d4f1ba557728e61eba230f8b357e77ed337b, ``honestdid ... l_vec(l_vec)`` with
``l_vec = (0.5, 0.5)``, 3 decimals). Stata draws the least-favourable critical value
with its own random-number generator, so agreement is only expected up to that
simulation's effect on the grid (a grid step or two).
"""

# HonestDiD README, DeltaRM, C-LF, effect in the first post-period (2014); (Mbar, lb, ub)
README_RM = [
    (0.5, "0.0240", "0.0672"),
    (1.0, "0.0170", "0.0720"),
    (1.5, "0.00824", "0.0797"),
    (2.0, "-0.000916", "0.0881"),
]

# HonestDiD README, DeltaSD, FLCI, first post-period; (M, lb, ub)
README_SD = [
    (0.00, "0.0259", "0.0607"),
    (0.01, "0.0132", "0.0787"),
    (0.02, "0.00286", "0.0907"),
    (0.03, "-0.00714", "0.101"),
    (0.04, "-0.0171", "0.111"),
    (0.05, "-0.0271", "0.121"),
]

# README text: "the breakdown value for a significant effect is Mbar = 2" and "M ~ 0.03".
README_BREAKDOWN_RM = 2.0
README_BREAKDOWN_SD = 0.03

# Stata honestdid README, average of the two post-period effects, DeltaRM C-LF
# (Mbar, lb, ub); the "(Original)" row is the parallel-trends CI.
STATA_RM_AVERAGE_ORIGINAL = ("0.040", "0.075")
STATA_RM_AVERAGE = [
    (0.0, "0.041", "0.075"),
    (0.5, "0.033", "0.080"),
    (1.0, "0.020", "0.090"),
    (1.5, "0.006", "0.103"),
    (2.0, "-0.008", "0.117"),
]
# Stata README, first post-period: original CI
STATA_ORIGINAL = ("0.029", "0.064")

# Informational, not asserted: moderndid 0.2.0 (PyPI; needs cvxpy) on the same
# betahat/sigma, create_sensitivity_results_rm(m_bar_vec=[0.5, 1, 1.5, 2]) gave
# (0.02413, 0.066888), (0.017094, 0.071963), (0.008587, 0.079599), (-0.000666, 0.087946)
# -- it does not reproduce the R README; policyeval does (see test_honest_did.py).
