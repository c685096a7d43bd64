"""The measures table's schema: the one place that names its variants, measures and columns.

A measure column is ``<group>.<name>`` under the paper's definitions and
``authors:<group>.<name>`` under the authors' (:data:`AUTHORS`); ``<group>`` is ``spread`` for
the three spread measures (:data:`SPREAD`) and the quantizer's name (``additive``,
``product``) for the eight quantized measures (:data:`QUANTIZED`). Bootstrap intervals of a
column ``c`` are ``ci_lo:c`` and ``ci_hi:c`` (:data:`CI`). Tables and figures list groups in
:data:`GROUP_ORDER` (others after) and names in the paper's order (:func:`order`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: the two definitions of every measure: the paper's equations and the authors' code
VARIANTS = ("paper", "authors")
AUTHORS = "authors:"  #: column prefix of the authors' definitions
SPREAD_GROUP = "spread"  #: the group of the spread measures
SPREAD = ("EEE", "VRM", "IS")  #: the spread measures (Section 3.3.1), in the paper's order
#: the measures of one quantizer (Section 3.3.2), in the paper's order
QUANTIZED = ("PP", "PC_var", "PC_kl", "RS", "RE", "RI", "CD_var", "PD_EEE")
GROUP_ORDER = ("additive", "product", SPREAD_GROUP)  #: the paper's order of the groups
#: column prefixes of the bootstrap intervals: ``ci_lo:<measure column>``, ``ci_hi:…``
CI = ("ci_lo:", "ci_hi:")
#: readable names of the measures (figure labels)
PAPER_NAMES = {
    "PP": "Point Patchiness (PP)", "PC_var": "Point count variance (PC_var)",
    "PC_kl": "Point count KL (PC_kl)", "RS": "Reconstruction Skew (RS)",
    "RE": "Reconstruction Error (RE)", "RI": "Reconstruction IQR (RI)",
    "CD_var": "Centroid Distribution (CD_var)", "PD_EEE": "Cluster Distribution (PD_EEE)",
    "EEE": "Eigenvalue Early Enrichment (EEE)", "VRM": "Vasicek Ratio MSE (VRM)",
    "IS": "IsoScore (IS)",
}


def prefix(variant: str) -> str:
    """The column prefix of a variant: ``""`` (paper) or :data:`AUTHORS`."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    return AUTHORS if variant == "authors" else ""


def flat_columns(result: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """``{variant: {group: {name: value}}}`` -> ``{column: value}`` (see the module docstring)."""
    out = {}
    for v, groups in result.items():
        pre = prefix(v)
        for g, vals in groups.items():
            out.update({f"{pre}{g}.{k}": float(x) for k, x in vals.items()})
    return out


def order(measures: Iterable[str]) -> list[str]:
    """Bare measure names ``<group>.<name>`` in the paper's order: groups in
    :data:`GROUP_ORDER` (others after, sorted), names as in :data:`QUANTIZED` + :data:`SPREAD`
    (others last)."""
    measures = list(dict.fromkeys(measures))
    groups = {m.split(".", 1)[0] for m in measures}
    gorder = [g for g in GROUP_ORDER if g in groups] + sorted(groups - set(GROUP_ORDER))
    rank = {n: i for i, n in enumerate(QUANTIZED + SPREAD)}
    return sorted(measures, key=lambda m: (gorder.index(m.split(".", 1)[0]),
                                           rank.get(m.split(".", 1)[1], 99)))
