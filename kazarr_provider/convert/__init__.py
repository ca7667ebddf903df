"""`kazarr-provider convert` and `validate`: NetCDF and GRIB2 in, GeoZarr with a multiscale pyramid out.

The modules, in the order a conversion runs them:

- `reader`: finds the inputs, opens each lazily (NetCDF through netCDF4/h5netcdf/scipy, GRIB2
  through cfgrib/ecCodes), turns GRIB's reference time and steps into one `time` axis, and
  checks that several inputs share grid, variables and calendar before they are joined along time
  (`compare`: those differences, which `--append` also asks of an input and the store).
- `grid`: what the store will hold, read through the server's own model (`core.model.build_model`):
  axes, float64 coordinates, CRS, affine transform, completed CF attributes, encodings.
- `pyramid`: the chunking rule, the levels (coarsened by 2 until a level fits in one chunk), and
  the mean / mode reductions carried as sums and counts so that every level is exact.
- `target`: the temporary target (a hidden directory or S3 prefix, moved into place at the end),
  existing stores opened in place, and write failures reported naming the output.
- `write`: the store's skeleton and the block-by-block copy of the data; `history`: what each
  conversion adds to the store's `history` and `kazarr:conversions`.
- `append`: new time steps onto an existing store and its pyramid.
- `pipeline`: one conversion from start to end (or an append), the order above.
- `validate`: what a store declares, per convention, and what disagrees; the server logs the same.

Nothing here is imported by the server except `validate`, so the converter's readers (cfgrib,
netCDF4) never load in a web worker.
"""
from __future__ import annotations


class ConvertError(Exception):
    """A conversion that cannot go on, with a message meant for the person who ran it (exit status 2)."""


def tool_version() -> str:
    try:
        from importlib.metadata import version
        return version('kazarr_provider')
    except Exception:  # pragma: no cover - not installed (run from a source tree)
        return 'unknown'
