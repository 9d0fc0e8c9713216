"""LP-DiD reference numbers from the method authors' R recipe, cross-checked with R lpdid.

Provenance: the diff-diff repository (github.com/igerber/diff-diff, MIT), file
``benchmarks/data/lpdid_golden.json`` at commit 08b6a66338c82b5633a7a647983044e58dd7659d,
written by ``benchmarks/R/generate_lpdid_golden.R`` (R 4.5.2, fixest 0.13.2, alexCardazzi/lpdid
0.6.1 at commit ba64563983861be5e616f6020842c1a1cdf17a27, seed 20260629) on the panel
``benchmarks/data/lpdid_test_panel.csv`` (copied to ``tests/data/lpdid_test_panel.csv``).
Numbers copied by hand (13 significant digits as stored); no code copied.

The recipe (Dube, Girardi, Jorda & Taylor's own R example scripts), per horizon h:
``feols(Dy ~ tdiff | time, data = clean_h, vcov = ~unit)`` under
``setFixest_ssc(ssc(adj = TRUE, cluster.adj = TRUE))``, with
Dy = y(t+h) - y(t-1) on {tdiff == 1 | treat(t+h) == 0} for h >= 0 and
Dy = y(t-h') - y(t-1) on {tdiff == 1 | treat(t) == 0} for the placebos h = -2, -3; leads and lags
on each unit's calendar (tsibble::fill_gaps; unit 60 lacks period 7). The generator requires
the alexCardazzi lpdid package to agree with the recipe within 1e-8 (variance-weighted).

* VW: variance-weighted (plain regression).
* EW: equally weighted: weights 1/w, w the FWL residual weight of the h = 0 treated rows by
  period; the placebos reuse the h = 0 weights.
* POOLED: mean(y over [t, t+4]) - y(t-1), clean through t+4 ("post"); mean(y over [t-3, t-2])
  - y(t-1) on {tdiff == 1 | treat == 0} ("pre").

Values: horizon -> (estimate, standard error). PRE = 3, POST = 4.
"""

VW = {
    0: (2.891454184758, 0.4972838592697),
    1: (3.215287698688, 0.4242105863868),
    2: (3.570283061763, 0.4502488079078),
    3: (3.968564586288, 0.3904079437881),
    4: (4.269176444588, 0.396524220757),
    -2: (0.1183626967809, 0.4413440724331),
    -3: (-0.1254433057345, 0.4292726043484),
}

EW = {
    0: (2.903628272087, 0.4973282590126),
    1: (3.221973963653, 0.4235473199649),
    2: (3.57527972142, 0.4499773773075),
    3: (3.971884855509, 0.390089371568),
    4: (4.265997983221, 0.3934421813065),
    -2: (0.1195811966608, 0.4402860720602),
    -3: (-0.1219233071656, 0.4298940947632),
}

POOLED = {
    "post": (3.532265685012, 0.3521082333958),
    "pre": (-0.003540304476795, 0.377308359478),
}

# DIRECT: covariate x (measured at t) added, ``feols(Dy ~ tdiff + x | time, vcov = ~unit)``
# (key "direct_es" of the same JSON; cross-checked there against lpdid(controls = ~ x))
DIRECT = {
    0: (2.876086144279, 0.4110153204559),
    1: (3.217671119032, 0.433940624349),
    2: (3.571778263524, 0.4571207641365),
    3: (3.969558831006, 0.3912243590417),
    4: (4.268878161094, 0.3995261701574),
    -2: (0.1185563879358, 0.442300060411),
    -3: (-0.1239894706087, 0.4328879644821),
}

# PMD: baseline the mean of y(t-1) and y(t-2) ("premean2"), ``feols(Dy ~ tdiff | time)``
# (key "pmd_es"; cross-checked there against lpdid(pmd = TRUE, pmd_lag = 2))
PMD = {
    0: (2.832272836367, 0.4337549369753),
    1: (3.156106350297, 0.3522180898809),
    2: (3.511101713373, 0.394076563941),
    3: (3.902081106111, 0.3654320104818),
    4: (4.269986848274, 0.3537196151693),
    -2: (0.05918134839047, 0.2206720362165),
    -3: (-0.184624654125, 0.3713701578016),
}
