"""Optimal transport for heatmaps: Sinkhorn, exact OT, Gromov-Wasserstein (batched), barycenters.

The detection chapter uses four functions::

    from poisondetect.transport import heatmap_to_space, pairwise_gw, gw_to_centers, gw_barycenter

    spaces = [heatmap_to_space(h, mass=0.99, max_points=64) for h in heatmaps]
    D = pairwise_gw(spaces)                          # (n, n) symmetric, zero diagonal
    d = gw_to_centers(spaces, centers)               # (n, k)
    c = gw_barycenter(members, weights, n_points=32) # MetricMeasureSpace

Modules: :mod:`.spaces` (metric-measure spaces, heatmap -> space, padding),
:mod:`.sinkhorn` (entropic OT), :mod:`.exact` (POT's exact OT, Wasserstein
between heatmaps), :mod:`.gromov` (GW: POT's exact solver and our batched
entropic solver), :mod:`.engine` (many pairs), :mod:`.barycenter`,
:mod:`.examples` (relevance-like stand-in maps made from images), :mod:`.teaching`
(hand-checkable traces and an epsilon slider for chapter 4; import it as a module).
"""

from .barycenter import gw_barycenter, initial_barycenter, mds_embedding
from .engine import gw_pairs, gw_to_centers, pairwise_gw
from .exact import emd, grid_cost, heatmap_histogram, wasserstein_heatmaps
from .examples import edge_relevance
from .gromov import GWResult, entropic_gw, entropic_gw_batch, exact_gw, gw_objective, gw_scale
from .sinkhorn import SinkhornResult, round_to_couplings, sinkhorn, sinkhorn_knopp, stabilized_projection
from .spaces import MetricMeasureSpace, check_histogram, heatmap_to_space, pad_coords, pad_spaces

__all__ = [
    "GWResult", "MetricMeasureSpace", "SinkhornResult", "check_histogram", "edge_relevance", "emd",
    "entropic_gw", "entropic_gw_batch", "exact_gw", "grid_cost", "gw_barycenter", "gw_objective",
    "gw_pairs", "gw_scale", "gw_to_centers", "heatmap_histogram", "heatmap_to_space",
    "initial_barycenter", "mds_embedding", "pad_coords", "pad_spaces", "pairwise_gw", "round_to_couplings",
    "sinkhorn", "sinkhorn_knopp", "stabilized_projection", "wasserstein_heatmaps",
]
