"""Card & Krueger (1994), Table 3, as printed.

Source: Card, D. and Krueger, A. B. (1994). Minimum wages and employment: a case
study of the fast-food industry in New Jersey and Pennsylvania. American Economic
Review 84(4), 772-793, Table 3 "Average employment per store before and after the
rise in New Jersey minimum wage", column group "Stores by state" (PA, NJ, NJ - PA),
printed page 780 (https://davidcard.berkeley.edu/papers/njmin-aer.pdf). Numbers are
estimate (standard error), FTE employment = full-time + managers + 0.5 x part-time;
"Employment at six closed stores is set to zero. Employment at four temporarily
closed stores is treated as missing" (table notes).

The numbers were found with the project's search tool in two independent public
restatements of the table (a course note on "Card & Krueger (1994) and Assessing
Parallel Trends" giving rows 1-3, and a fact-check log quoting rows 3 and 4 from the
page image of the PDF); both agree with each other digit for digit.

Data: tests/data/card_krueger_employment.csv (see tests/data/README.md).

How each row is reproduced (tests/test_did_table.py):

- rows 1-2 (levels and NJ - PA differences, all available observations):
  ``did_table(long, "fte", "state", "wave", idname="store_id", vcov="hc1")`` —
  the saturated regression with HC1 standard errors; every printed digit matches.
  (The Welch/HC2 convention gives 1.08 instead of the printed 1.07 for the
  wave-2 difference: the paper's differences carry the n/(n-k) HC1 scaling.)
- row 4 (change in mean FTE, balanced sample of stores):
  ``did_table(..., idname="store_id", balanced=True, vcov="hc2")``; every digit.
- row 3 (change in mean FTE, all available observations) is NOT reproduced to the
  printed digits from the public release: the public data give PA -2.1656 (prints
  -2.17, paper -2.16) and a DiD of 2.7536 (prints 2.75, paper 2.76); standard errors
  1.22 / 0.47 / 1.31 (clustered by store) against the printed 1.25 / 0.54 / 1.36.
  The same public-data values (PA 23.331169 -> 21.165584, NJ 20.439408 -> 21.027429)
  appear in independent replications, so the gap is between the public release and
  the data behind the printed table, not a computation choice. The test checks the
  estimates to 0.01 and states the gap.
Tolerance for reproduced entries: the printed rounding, |x - printed| <= 0.005.
"""

PRINTED_DIGITS_TOL = 0.005

# (estimate, std_error)
ROW1_BEFORE = {"PA": (23.33, 1.35), "NJ": (20.44, 0.51), "NJ-PA": (-2.89, 1.44)}
ROW2_AFTER = {"PA": (21.17, 0.94), "NJ": (21.03, 0.52), "NJ-PA": (-0.14, 1.07)}
ROW3_CHANGE = {"PA": (-2.16, 1.25), "NJ": (0.59, 0.54), "NJ-PA": (2.76, 1.36)}
ROW4_CHANGE_BALANCED = {"PA": (-2.28, 1.25), "NJ": (0.47, 0.48), "NJ-PA": (2.75, 1.34)}
