"""One change measured over several seeds, paired (notebook 07's ablation of embedding choices).

Two recipes trained with the same seeds start from related weights and see the batches in the same
order, so each seed gives one *paired* difference, variant minus baseline. The mean of the ``n``
differences is the effect; its noise is two standard errors, $2\\,\\mathrm{sd}/\\sqrt n$ of the
differences: an effect smaller than that is within what another draw of seeds could give. (The
difference of two *single* runs has about $\\sqrt 2$ times one run's standard deviation.)
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Mapping


@dataclass
class PairedDifference:
    """``per_seed``: variant − baseline for each seed; ``mean`` of those; ``noise``: 2 standard errors."""

    per_seed: dict[int, float]
    mean: float
    noise: float

    @property
    def beyond_noise(self) -> bool:
        """Whether the mean difference is larger, either way, than its noise."""
        return abs(self.mean) > self.noise


def paired_difference(variant: Mapping[int, float], baseline: Mapping[int, float]) -> PairedDifference:
    """Variant minus baseline, seed by seed, over the seeds both have (at least two)."""
    seeds = sorted(set(variant) & set(baseline))
    if len(seeds) < 2:
        raise ValueError(f"a paired comparison needs at least two seeds in common, got {seeds}")
    per_seed = {s: variant[s] - baseline[s] for s in seeds}
    values = list(per_seed.values())
    return PairedDifference(per_seed, statistics.mean(values), 2 * statistics.stdev(values) / math.sqrt(len(values)))
