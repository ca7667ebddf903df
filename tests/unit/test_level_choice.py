"""The multiscale level rule shared by EDR's resolution parameters and Coverages scaling."""
from types import SimpleNamespace

import numpy as np

from kazarr_provider.core.levels import coarsest_within


def _levels(*cells):
    return [SimpleNamespace(name=str(k), cell=(c, c)) for k, c in enumerate(cells)]


def test_the_coarsest_level_not_coarser_than_asked():
    levels = _levels(0.05, 0.1, 0.2, 0.4)
    assert coarsest_within(levels, 0.35, 0.35).name == '2'
    assert coarsest_within(levels, 0.01, 0.01).name == '0'          # finer than all: the finest
    assert coarsest_within(levels, 10, 0.15).name == '1'            # the tighter axis decides


def test_float32_coordinates_do_not_push_an_exact_match_to_a_finer_level():
    # MUR-like float32 latitudes: a 0.4 degree level measures 0.400000013593576
    cell = float(np.diff(np.array([0.0, 0.4], dtype='float32').astype('float64'))[0])
    levels = _levels(0.05, 0.1, 0.2, 0.400000013593576)
    assert cell != 0.4 and coarsest_within(levels, 0.4, 0.4).name == '3'
