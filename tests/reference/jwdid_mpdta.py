"""Stata jwdid on mpdta: ATT(g,t) and standard errors of the extended TWFE regression.

Provenance: the diff-diff repository (github.com/igerber/diff-diff, MIT), file
``benchmarks/data/etwfe_cs_stata_golden.json`` at commit
0e0e2097b770498bc377843ddf778fb88c2c264a, written by its script
``benchmarks/stata/generate_etwfe_cs_golden.do`` with Stata 19 SE, jwdid v2.21,
reghdfe 3.2.9, csdid v1.81, on R did's ``mpdta`` (``benchmarks/data/mpdta_stata_panel.csv``).
Numbers copied by hand; no code copied. The commands were::

    jwdid lemp, ivar(countyreal) tvar(year) gvar(first_treat)          -> NOTYET
    jwdid lemp, ivar(countyreal) tvar(year) gvar(first_treat) never    -> NEVER

jwdid's default standard errors are reghdfe's, clustered by ``ivar`` with the factor
G/(G-1) (n-1)/(n-K), K excluding the unit effects nested in the clusters. Keys are
(cohort, year): {"att": ..., "se": ...}.
"""

NOTYET = {
    (2004, 2004): (-0.019372363675909551, 0.022381770443295975),
    (2004, 2005): (-0.078319099062053255, 0.030487838520761604),
    (2004, 2006): (-0.13607811444031598, 0.035455486551175253),
    (2004, 2007): (-0.10470747157659592, 0.033874305460323405),
    (2006, 2006): (0.0025138619419130628, 0.019932816904001841),
    (2006, 2007): (-0.039192735591725474, 0.024008748273466048),
    (2007, 2007): (-0.043106032808698021, 0.018431147223806212),
}

NEVER = {
    (2004, 2004): (-0.01050324622095701, 0.023349189673294385),
    (2004, 2005): (-0.070423158103148337, 0.031115567690950852),
    (2004, 2006): (-0.13725873888941312, 0.036589475963765966),
    (2004, 2007): (-0.100811363085407, 0.034504271910207822),
    (2006, 2003): (-0.0037692936737138269, 0.031474336697626552),
    (2006, 2004): (0.0027508187505188874, 0.019641126706453155),
    (2006, 2006): (-0.0045946069528630213, 0.017830149500418953),
    (2006, 2007): (-0.041224471546218548, 0.020314577368354389),
    (2007, 2003): (0.0033063566925126296, 0.024555095531863514),
    (2007, 2004): (0.033813012275805458, 0.02121837087758589),
    (2007, 2005): (0.031087119389688365, 0.017952980500827595),
    (2007, 2007): (-0.026054410719196439, 0.016725745592717861),
}
