"""Published results of R ``synthdid`` (and Stata ``sdid``) on California Proposition 99.

Data: ``tests/data/california_prop99.csv`` (see ``tests/data/README.md``), i.e. R
synthdid's ``data('california_prop99')``: 38 control states + California,
1970–2000, treated from 1989.

Every number below is copied from a printed output; the source is named beside it.
"""

# --- point estimates, five decimals --------------------------------------------------
# SDID: R synthdid 0.0.9, `print(summary(synthdid_estimate(setup$Y, setup$N0, setup$T0)))`
#   prints "$estimate [1] -15.60383"; the Stata port prints the same ATT:
#   github.com/Daniel-Pailanir/sdid README.md, `sdid packspercapita state year treated,
#   vce(placebo) reps(100) seed(1213)` -> "treatment | -15.60383  9.20931 ...".
SDID = -15.60383
# SC and DiD in the same framework: Stata sdid (SSC), `sdid packspercapita state year
#   treated, method(sc) vce(noinference)` and `method(did)`, log printed in
#   carlos-mendez.org/post/stata_sdid (index.md, "SC (sdid framework) = -19.61966",
#   "DiD (sdid framework) = -27.34911"); the same DiD number is Stata's
#   `reg packspercapita i.cal##i.post` interaction (same page) and the R package
#   pkgdown article below prints them rounded as -19.6 and -27.3.
SC = -19.61966
DID = -27.34911

# --- R synthdid pkgdown article "paper results" (synthdid 0.0.9, R 4.1.3, 2022-03-15) ---
# synth-inference/synthdid, articles/paper-results.html, Table 1:
#   `round(california.table, digits=1)` -> estimate DID -27.3, SC -19.6, SDID -15.6
TABLE1_ROUNDED = {"did": -27.3, "sc": -19.6, "sdid": -15.6}

# Tables 7 and 8 of the same article: `xtable(round(synthdid_controls(estimates[1:3],
# weight.type='omega', mass=1), 3))` printed with xtable's default 2 digits, so each
# entry is sprintf('%.2f', round(w, 3)). Columns: did, sc, sdid.
UNIT_WEIGHTS = {
    "Alabama": ("0.03", "0.00", "0.00"), "Arkansas": ("0.03", "0.00", "0.00"),
    "Colorado": ("0.03", "0.01", "0.06"), "Connecticut": ("0.03", "0.10", "0.08"),
    "Delaware": ("0.03", "0.00", "0.07"), "Georgia": ("0.03", "0.00", "0.00"),
    "Idaho": ("0.03", "0.00", "0.03"), "Illinois": ("0.03", "0.00", "0.05"),
    "Indiana": ("0.03", "0.00", "0.01"), "Iowa": ("0.03", "0.00", "0.03"),
    "Kansas": ("0.03", "0.00", "0.02"), "Kentucky": ("0.03", "0.00", "0.00"),
    "Louisiana": ("0.03", "0.00", "0.00"), "Maine": ("0.03", "0.00", "0.03"),
    "Minnesota": ("0.03", "0.00", "0.04"), "Mississippi": ("0.03", "0.00", "0.00"),
    "Missouri": ("0.03", "0.00", "0.01"), "Montana": ("0.03", "0.23", "0.04"),
    "Nebraska": ("0.03", "0.00", "0.05"), "Nevada": ("0.03", "0.20", "0.12"),
    "New Hampshire": ("0.03", "0.04", "0.10"), "New Mexico": ("0.03", "0.00", "0.04"),
    "North Carolina": ("0.03", "0.00", "0.03"), "North Dakota": ("0.03", "0.00", "0.00"),
    "Ohio": ("0.03", "0.00", "0.03"), "Oklahoma": ("0.03", "0.00", "0.00"),
    "Pennsylvania": ("0.03", "0.00", "0.01"), "Rhode Island": ("0.03", "0.00", "0.00"),
    "South Carolina": ("0.03", "0.00", "0.00"), "South Dakota": ("0.03", "0.00", "0.00"),
    "Tennessee": ("0.03", "0.00", "0.00"), "Texas": ("0.03", "0.00", "0.01"),
    "Utah": ("0.03", "0.40", "0.04"), "Vermont": ("0.03", "0.00", "0.00"),
    "Virginia": ("0.03", "0.00", "0.00"), "West Virginia": ("0.03", "0.00", "0.03"),
    "Wisconsin": ("0.03", "0.00", "0.04"), "Wyoming": ("0.03", "0.00", "0.00"),
}
TIME_WEIGHTS = {  # year: (did, sc, sdid)
    1988: ("0.05", "0.00", "0.43"), 1987: ("0.05", "0.00", "0.21"), 1986: ("0.05", "0.00", "0.37"),
    **{y: ("0.05", "0.00", "0.00") for y in range(1970, 1986)},
}

# R synthdid `print()` output "synthdid: -15.604 +- NA. Effective N0/N0 = 16.4/38~0.4.
# Effective T0/T0 = 2.8/19~0.1. N1,T1 = 1,12." (and "-19.620 ... Effective N0/N0 = 3.8/38"
# for sc_estimate, "-27.349 ... 38.0/38" for did_estimate), as printed in a rendered
# R Markdown chapter `29-synthdid` that runs synthdid through causalverse::panel_estimate
# (found with code search; repository not recorded). The Python port synthdid-py quotes the
# same line for its port (pypi.org/project/synthdid-py). Effective N0 = 1 / sum(omega^2).
EFFECTIVE_N0 = {"sdid": 16.4, "sc": 3.8, "did": 38.0}
EFFECTIVE_T0_SDID = 2.8

# --- the rest of Table 1 of the same article (synthdid 0.0.9 pkgdown, articles/paper-results.html,
# github.com/synth-inference/synthdid at d4be2b2109b84a2c35a120e38cf85c4f4b4d69be) ---------------
#   difp_estimate     = synthdid_estimate(Y, N0, T0, weights=list(lambda=rep(1/T0, T0)), eta.omega=1e-6)
#   difp_estimate_reg = synthdid_estimate(Y, N0, T0, weights=list(lambda=rep(1/T0, T0)))
#   sc_estimate_reg   = sc_estimate(Y, N0, T0, eta.omega=((nrow(Y)-N0)*(ncol(Y)-T0))^(1/4))
#   standard.errors: set.seed(12345) before each; sqrt(vcov(estimate, method='placebo'))
#     (200 replications, synthdid's default)
#   round(california.table, digits=1) printed:
#                  DID    SC  SDID  DIFP    MC SC_REG DIFP_REG
#   estimate       -27.3 -19.6 -15.6 -11.1 -20.2  -21.7    -16.1
#   standard error  17.7   9.9   8.4   9.5  11.5   10.0      9.2
TABLE1_ESTIMATE = {"did": -27.3, "sc": -19.6, "sdid": -15.6, "difp": -11.1,
                   "sc_reg": -21.7, "difp_reg": -16.1}
TABLE1_PLACEBO_SE = {"did": 17.7, "sc": 9.9, "sdid": 8.4, "difp": 9.5, "sc_reg": 10.0,
                     "difp_reg": 9.2}
