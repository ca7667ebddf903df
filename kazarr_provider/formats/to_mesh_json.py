"""TriMesh -> JSON, the mesh process's JSON answer, encoded in bulk with orjson.

    {"crs": CRS84, "vertices": [[lon, lat], ...], "triangles": [[i, j, k], ...],
     "data_mapping": "vertices" | "cells", "values": {name: [value | null, ...]}}

Triangles are 0-based indices into `vertices`, counter-clockwise; values follow the vertices or the
triangles. `to_json` keeps the numpy arrays (C-contiguous) in the document; orjson writes them with
OPT_SERIALIZE_NUMPY without building Python lists, NaN (and infinities) as null.
"""
from __future__ import annotations

import numpy as np
import orjson

from ..core.compute.trimesh import TriMesh

MEDIA_TYPE = 'application/json'
CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'


def _array(values, dtype) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=dtype)


def to_json(mesh: TriMesh) -> dict:
    """The document, numpy arrays inside (see `encode`)."""
    values = {}
    for name, array in mesh.values.items():
        array = np.asarray(array)
        native = array.dtype.kind in 'iu' or (array.dtype.kind == 'f' and array.dtype.itemsize >= 4)
        values[name] = _array(array, array.dtype if native else 'float64')     # float16, bool, ...: float64
    return {'crs': CRS84, 'vertices': _array(mesh.vertices, 'float64').reshape(-1, 2),
            'triangles': _array(mesh.triangles, 'int64').reshape(-1, 3),
            'data_mapping': mesh.data_mapping, 'values': values}


def encode(mesh: TriMesh) -> bytes:
    return orjson.dumps(to_json(mesh), option=orjson.OPT_SERIALIZE_NUMPY)
