"""R etwfe on mpdta with the covariate lpop: emfx() aggregations (linear and Poisson).

Provenance: the etwfe package's own test file, github.com/grantmcdermott/etwfe,
``inst/tinytest/test_emfx.R`` at commit 10f502c078485a38af377c13c9b9f78e37cedc48 (values stored
there as ``emfx(...) |> c() |> data.frame() |> dput()`` output; copied by hand, no code copied).
The models were::

    data("mpdta", package = "did"); mpdta$emp = exp(mpdta$lemp)
    m3  = etwfe(lemp ~ lpop, tvar = year, gvar = first.treat, data = mpdta, vcov = ~countyreal)
    m3n = etwfe(lemp ~ lpop, tvar = year, gvar = first.treat, data = mpdta, cgroup = "never",
                vcov = ~countyreal)
    m3p = etwfe(emp ~ lpop, tvar = year, gvar = first.treat, data = mpdta, vcov = ~countyreal,
                family = "poisson")
    emfx(m3) ; emfx(m3, type = "event"|"group"|"calendar")
    emfx(m3n, type = "event", window = c(2, 3)) ; emfx(m3p, type = "event")

etwfe's default uses cohort (gvar) and year fixed effects (policyeval ``fe="cohort"``).
marginaleffects computes the standard errors with numerical derivatives: an older stored
version of the same file (marginaleffects of 2023) has simple SE 0.0124997858367792 against
0.0124972546529842 here (2e-4 apart), and the package's own test tolerance is 5e-4. Values:
key -> (estimate, standard error).
"""

SIMPLE = (-0.0506270331228907, 0.0124972546529842)

EVENT = {
    0: (-0.0332122037837542, 0.0133659635774059),
    1: (-0.0573456479257483, 0.0171496442892364),
    2: (-0.137870386660852, 0.0307883597041053),
    3: (-0.10953945536511, 0.0323152785480507),
}

GROUP = {
    2004: (-0.0876269608795944, 0.0230474099815232),
    2006: (-0.0212783329358987, 0.0185912208081438),
    2007: (-0.0459545277368072, 0.0179714452432232),
}

CALENDAR = {
    2004: (-0.0212480022225509, 0.0217240109737018),
    2005: (-0.0818499992698648, 0.0273693827216135),
    2006: (-0.0442655912990223, 0.0173733625406716),
    2007: (-0.0524323095862384, 0.015015825012757),
}

# m3n (never-treated controls), event window -2..3; -1 is the reference (0, no SE)
EVENT_NEVER = {
    -2: (0.0234649547538384, 0.0145314904277398),
    0: (-0.0211467366918433, 0.0113935648352396),
    1: (-0.0533558653415615, 0.0157744281621729),
    2: (-0.141080104628566, 0.0322891808795742),
    3: (-0.107544274673025, 0.0329231688783015),
}

# m3p (Poisson, emp = exp(lemp)), response scale
EVENT_POISSON = {
    0: (-25.3497484355494, 15.8862762958862),
    1: (1.09175116997388, 40.2952222352926),
    2: (-75.1246321552693, 23.1541376499351),
    3: (-101.823979344829, 27.0877431076141),
}
