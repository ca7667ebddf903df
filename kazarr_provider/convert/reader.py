"""Open the inputs lazily and join them along time.

NetCDF goes through xarray's netCDF4 engine (h5netcdf, then scipy for NetCDF-3, when netCDF4 is not
installed); GRIB2 through cfgrib/ecCodes, whose reference time and forecast steps become one `time`
axis of valid times. Each input stays a separate lazily indexed dataset (`Source.parts`): a block
is read from the parts it spans, so no input is ever loaded whole and no dask graph is built.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..core.axes import find_axes
from . import ConvertError
from .compare import differences, iso_time

LOGGER = logging.getLogger(__name__)

NETCDF_SUFFIXES = ('.nc', '.nc4', '.nc3', '.netcdf', '.cdf', '.h5', '.hdf5', '.he5')
GRIB_SUFFIXES = ('.grib', '.grib2', '.grb', '.grb2', '.grib1', '.grb1', '.gb2')
HDF5_MAGIC = b'\x89HDF\r\n\x1a\n'


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files named, and the NetCDF/GRIB files (by suffix) of the directories named, in name order."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in NETCDF_SUFFIXES + GRIB_SUFFIXES)
            if not found:
                raise ConvertError(f'{item}: a directory without NetCDF or GRIB files ({", ".join(NETCDF_SUFFIXES)}, '
                                   f'{", ".join(GRIB_SUFFIXES)})')
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise ConvertError(f'{item}: not a regular file')
        else:
            raise ConvertError(f'{item}: no such file')
    if not files:
        raise ConvertError('no input files')
    return files


def sniff(path: Path) -> str:
    """'grib', 'netcdf3' or 'netcdf4' from the first bytes (GRIB may follow a bulletin header)."""
    try:
        with open(path, 'rb') as fh:
            head = fh.read(4096)
    except OSError as error:
        raise ConvertError(f'{path}: cannot read ({error.strerror or error})') from None
    if head.startswith(b'CDF\x01') or head.startswith(b'CDF\x02') or head.startswith(b'CDF\x05'):
        return 'netcdf3'
    if head.startswith(HDF5_MAGIC):
        return 'netcdf4'
    if b'GRIB' in head[:1024]:
        return 'grib'
    raise ConvertError(f'{path}: neither NetCDF nor GRIB (it starts with {head[:8]!r})')


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _netcdf_engine(kind: str, path: Path) -> str:
    candidates = ['netcdf4', 'scipy'] if kind == 'netcdf3' else ['netcdf4', 'h5netcdf']
    for engine in candidates:
        module = {'netcdf4': 'netCDF4', 'h5netcdf': 'h5netcdf', 'scipy': 'scipy'}[engine]
        if _installed(module):
            return engine
    raise ConvertError(f'{path}: a NetCDF-4 file needs the netCDF4 (or h5netcdf) package installed')


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f'{type(error).__name__}: {text[0][:300]}' if text else type(error).__name__


def open_one(path: Path) -> xr.Dataset:
    """One input, opened lazily, CF-decoded (masked and unpacked, times decoded, cftime for other calendars)."""
    kind = sniff(path)
    if kind == 'grib':
        return _open_grib(path)
    engine = _netcdf_engine(kind, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ds = xr.open_dataset(path, engine=engine, chunks=None, mask_and_scale=True,
                                 decode_times=xr.coders.CFDatetimeCoder(use_cftime=None), decode_timedelta=False)
    except Exception as error:  # any reader failure: say which file and why, never a traceback
        raise ConvertError(f'{path}: cannot read as NetCDF ({_first_line(error)})') from None
    ds.encoding.setdefault('source', str(path))
    return ds


def _open_grib(path: Path) -> xr.Dataset:
    try:
        import cfgrib       # here, not at the top: about a second to import, and needed for GRIB inputs only
    except Exception as error:  # ImportError, or ecCodes' shared library not found
        raise ConvertError(f'{path}: reading GRIB needs cfgrib and ecCodes ({_first_line(error)})') from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            # indexpath '': no .idx file written next to the input (it may be read-only)
            parts = cfgrib.open_datasets(str(path), backend_kwargs={'indexpath': ''}, cache=False)
    except Exception as error:
        raise ConvertError(f'{path}: cannot read as GRIB ({_first_line(error)})') from None
    if not parts:
        raise ConvertError(f'{path}: no GRIB message cfgrib can decode')
    merged: dict[str, xr.DataArray] = {}
    attrs = dict(parts[0].attrs)
    for part in parts:
        part = grib_time_axis(part, path)
        for name, var in part.data_vars.items():
            name = str(name)
            if name in merged:
                name = f'{name}_{var.attrs.get("GRIB_typeOfLevel", len(merged))}'
            merged[name] = var
    try:
        ds = xr.Dataset(merged, attrs=attrs)
    except Exception as error:
        raise ConvertError(f'{path}: its GRIB messages do not share one grid and time axis '
                           f'({_first_line(error)}); split the file by parameter') from None
    ds.encoding['source'] = str(path)
    return ds


def grib_time_axis(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """cfgrib's (reference `time`, `step`) become one `time` dimension of valid times."""
    if 'valid_time' not in ds.variables:
        return ds
    dims = [d for d in ('time', 'step') if d in ds.dims]
    if len(dims) == 2:
        raise ConvertError(f'{path}: several reference times and several steps in one file; convert one run per '
                           'file (each run becomes steps along time)')
    if dims:
        ds = ds.swap_dims({dims[0]: 'valid_time'})
    ds = ds.drop_vars([v for v in ('time', 'step') if v in ds.variables])
    ds = ds.rename({'valid_time': 'time'})
    if 'time' not in ds.dims:
        ds = ds.expand_dims('time')
    # scalar level coordinates (surface, heightAboveGround...) would clash between parameters: kept as attributes
    scalars = [name for name, var in ds.coords.items() if var.ndim == 0]
    for name in scalars:
        for var in ds.data_vars.values():
            var.attrs.setdefault(f'GRIB_{name}', ds[name].values.item())
    ds = ds.drop_vars(scalars)
    ds['time'].attrs.update(standard_name='time', long_name='time (valid time)')
    return ds


@dataclass
class Source:
    """The inputs as one dataset along `t` (None: a single input without time)."""

    parts: list[tuple[Path, xr.Dataset]]
    t: str | None
    starts: list[int] = field(default_factory=list)     # time index of each part's first step

    @property
    def first(self) -> xr.Dataset:
        return self.parts[0][1]

    @property
    def paths(self) -> list[Path]:
        return [p for p, _ in self.parts]

    @property
    def ntime(self) -> int:
        return self.starts[-1] + self.parts[-1][1].sizes[self.t] if self.t else 0

    def times(self) -> np.ndarray:
        if not self.t:
            return np.array([])
        return np.concatenate([np.asarray(ds[self.t].values) for _, ds in self.parts])

    def read(self, name: str, selection: dict[str, slice], order: tuple[str, ...]) -> np.ndarray:
        """The block `selection` (slices by dimension) of variable `name`, its axes in `order`."""
        var = self.first[name]
        tslice = selection.get(self.t) if self.t else None
        if tslice is None or self.t not in var.dims:
            return _block(var, selection, order)
        pieces = []
        for (path, ds), start in zip(self.parts, self.starts):
            n = ds.sizes[self.t]
            lo, hi = max(tslice.start, start), min(tslice.stop, start + n)
            if lo < hi:
                local = {**selection, self.t: slice(lo - start, hi - start)}
                try:
                    pieces.append(_block(ds[name], local, order))
                except ConvertError:
                    raise
                except Exception as error:
                    raise ConvertError(f'{path}: cannot read {name} ({_first_line(error)})') from None
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=order.index(self.t))


def _block(var: xr.DataArray, selection: dict[str, slice], order: tuple[str, ...]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        block = var.isel({d: s for d, s in selection.items() if d in var.dims})
        return np.asarray(block.transpose(*order).values)


def time_dim(ds: xr.Dataset) -> str | None:
    return find_axes(ds).get('t')


def open_inputs(paths: list[Path], variables: list[str] | None = None) -> Source:
    """Every input opened, the variables chosen, and the parts checked and ordered along time."""
    parts = []
    for path in paths:
        ds = open_one(path)
        if variables:
            missing = [v for v in variables if v not in ds.data_vars]
            if missing:
                raise ConvertError(f'{path}: no variable {", ".join(map(repr, missing))} (it has: '
                                   f'{", ".join(sorted(map(str, ds.data_vars))) or "none"})')
        parts.append((path, ds))
    t = time_dim(parts[0][1])
    if len(parts) > 1:
        if t is None:
            raise ConvertError(f'{parts[0][0]}: several inputs are joined along time, but it has no time axis')
        for path, ds in parts[1:]:
            if time_dim(ds) != t:
                raise ConvertError(f'{path}: no time axis {t!r} (like {parts[0][0].name}) to be joined along')
        parts.sort(key=lambda item: _first_time(item[1], t))
    source = Source(parts, t)
    starts, total = [], 0
    for _, ds in parts:
        starts.append(total)
        total += ds.sizes[t] if t else 0
    source.starts = starts
    if len(parts) > 1:
        reference = parts[0][1]
        for path, ds in parts[1:]:
            found = differences(reference, ds, t, variables, f'{parts[0][0].name}', path.name)
            if found:
                raise ConvertError(f'{path}: cannot be joined with {parts[0][0].name}: {found[0]}')
        check_increasing(source.times(), [p for p, _ in parts], [ds.sizes[t] for _, ds in parts])
    return source


def _first_time(ds: xr.Dataset, t: str):
    values = np.asarray(ds[t].values)
    return values.min() if values.size else 0


def check_increasing(times: np.ndarray, paths: list[Path], counts: list[int], after=None, store: str | None = None):
    """Refuse repeated or unordered time steps, naming the inputs (and the store's last step when appending)."""
    if after is not None and len(times) and not times[0] > after:
        raise ConvertError(f'{paths[0]}: its first time {iso_time(times[0])} is not after the last one of '
                           f'{store} ({iso_time(after)}); --append only adds later steps')
    if len(times) < 2:
        return
    bad = np.flatnonzero(~(times[1:] > times[:-1]))
    if bad.size:
        k = int(bad[0]) + 1
        owner = paths[int(np.searchsorted(np.cumsum(counts), k, side='right'))]
        raise ConvertError(f'{owner}: time {iso_time(times[k])} repeats or goes back (after '
                           f'{iso_time(times[k - 1])}); inputs along time must not overlap')


def describe_size(paths: list[Path]) -> int:
    return sum(os.path.getsize(p) for p in paths)
