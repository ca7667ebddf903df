"""`kazarr-provider serve | demo-data | openapi | convert | validate`."""
from __future__ import annotations

import argparse
import logging
import os
import sys


def serve(args) -> int:
    from .settings import Settings

    settings = Settings.from_env()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if not os.environ.get('PUBLIC_URL'):
        shown = 'localhost' if settings.host in ('0.0.0.0', '::') else settings.host
        settings.public_url = f'http://{shown}:{settings.port}'
    # before anything imports prometheus_client (the application below does), and before the fork
    prepare_metrics_dir(os.path.join(settings.state_dir, 'metrics', str(settings.port)))

    from gunicorn.app.base import BaseApplication

    from .server.app import create_app
    from .server.worker import child_exit, slow_client_worker

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set('bind', f'{settings.host}:{settings.port}')
            self.cfg.set('workers', args.workers)
            # threads, and slow clients kept off them (see server.worker): a connection that stalls
            # costs a socket, or at worst one thread for `read_timeout` seconds, never a whole worker
            self.cfg.set('worker_class', slow_client_worker(args.read_timeout))
            self.cfg.set('threads', args.threads)
            # with threads, the worker timeout watches the worker's event loop, not one request
            self.cfg.set('timeout', args.timeout)
            self.cfg.set('accesslog', '-' if args.access_log else None)
            # gunicorn's largest request line (its default is 4094 bytes): long MULTIPOINT/LINESTRING
            # coordinates still fit a GET; beyond it POST the parameters (gunicorn answers 414 itself)
            self.cfg.set('limit_request_line', 8190)
            # in the master, when a worker exits: its live metrics leave the /metrics sums
            self.cfg.set('child_exit', child_exit)

        def load(self):
            # built in each worker, never before the fork: S3 clients (tokio runtimes) do not survive fork()
            return create_app(settings)

    print(f'kazarr-provider serving {settings.datasets_path or "(no DATASETS_PATH)"} '
          f'on {settings.public_url} with {args.workers} worker(s) x {args.threads} thread(s)', flush=True)
    Server().run()
    return 0


def prepare_metrics_dir(default: str) -> str:
    """PROMETHEUS_MULTIPROC_DIR for the gunicorn workers' metrics (see kazarr_provider.metrics): the
    operator's, else `default` (one per port, so servers sharing a state directory keep their own counts),
    created, and emptied of a previous run's metric files. prometheus-client chooses its multiprocess mode
    when it is first imported: this must run before."""
    import glob
    if 'prometheus_client' in sys.modules:
        logging.getLogger(__name__).warning('prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR '
                                            'was set: the workers keep their metrics to themselves and '
                                            '/metrics will not show them')
    path = os.environ.get('PROMETHEUS_MULTIPROC_DIR') or default
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, '*.db')):        # only the files prometheus-client writes
        os.remove(name)
    os.environ['PROMETHEUS_MULTIPROC_DIR'] = path
    return path


def demo_data(args) -> int:
    from .demo import write_demo_data
    written = write_demo_data(args.directory, overwrite=args.overwrite)
    print(f'wrote {len(written)} store(s) under {args.directory}' + ''.join(f'\n  {w}' for w in written))
    return 0


def openapi(args) -> int:
    from .server.snapshot import AppState
    from .settings import Settings
    import yaml
    state = AppState(Settings.from_env())
    document = state.current.openapi
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, 'w', encoding='utf8') as fh:
        yaml.safe_dump(document, fh, sort_keys=False)
    print(f'wrote {args.output} ({len(document["paths"])} paths, {len(state.current.ours)} collections)')
    return 0


def convert(args) -> int:
    from .convert import ConvertError
    from .convert.pipeline import Options, convert as run
    pack = [v for v in args.pack_variables.split(',') if v] if args.pack_variables else bool(args.pack)
    shard = args.shard_shape or args.shard or None
    options = Options(inputs=args.inputs, output=args.output, zarr_format=args.zarr_format, chunks=args.chunks,
                      shard=shard, pack=pack, overwrite=args.overwrite, append=args.append,
                      variables=[v for v in args.variables.split(',') if v] if args.variables else None,
                      pyramid=not args.no_pyramid, progress=False if args.quiet else None)
    try:
        summary = run(options)
    except ConvertError as error:
        print(f'kazarr-provider convert: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('kazarr-provider convert: interrupted (nothing left half-written)', file=sys.stderr)
        return 130
    except Exception as error:  # never a traceback: the type and first line, and exit status 2
        text = str(error).strip().splitlines()
        print(f'kazarr-provider convert: error: {type(error).__name__}: {text[0] if text else ""}', file=sys.stderr)
        return 2
    megabytes = summary['input_bytes'] / 1e6
    action = 'appended' if args.append else 'wrote'
    print(f'{action} {summary["output"]}: {len(summary["variables"])} variable(s), {summary["steps"]} time step(s), '
          f'{len(summary["levels"])} level(s) ({", ".join(f"{n}: {y}x{x}" for n, y, x in summary["levels"])}), '
          f'{megabytes:.1f} MB in {summary["seconds"]:.1f} s')
    return 0


def validate(args) -> int:
    from .convert.validate_store import run
    return run(args.store)


def main(argv=None) -> int:
    logging.basicConfig(level=os.environ.get('LOG_LEVEL', 'INFO').upper(),
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(prog='kazarr-provider', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('serve', help='run the production WSGI server (gunicorn)')
    p.add_argument('--host', help='bind address (default: $HOSTNAME if an address, else 127.0.0.1)')
    p.add_argument('--port', type=int, help='port (default: $PORT or 5000)')
    p.add_argument('--workers', type=int, default=int(os.environ.get('WORKERS', '2')))
    p.add_argument('--timeout', type=int, default=int(os.environ.get('WORKER_TIMEOUT', '120')))
    p.add_argument('--threads', type=int, default=int(os.environ.get('THREADS', '8')),
                   help='request threads per worker (default: $THREADS or 8)')
    p.add_argument('--read-timeout', type=float, default=float(os.environ.get('READ_TIMEOUT', '10')),
                   help='seconds a client has to send its request line and headers, and longest pause '
                        'while it sends a body (default: $READ_TIMEOUT or 10)')
    p.add_argument('--access-log', action='store_true')
    p.set_defaults(func=serve)
    p = sub.add_parser('demo-data', help='write the demo GeoZarr stores')
    p.add_argument('directory')
    p.add_argument('--overwrite', action='store_true')
    p.set_defaults(func=demo_data)
    p = sub.add_parser('openapi', help='regenerate the OpenAPI document')
    p.add_argument('-o', '--output', default='openapi/openapi.yml')
    p.set_defaults(func=openapi)
    p = sub.add_parser('convert', help='NetCDF / GRIB2 files to a GeoZarr store with a multiscale pyramid',
                       description='Convert NetCDF (CF) and GRIB2 files into one GeoZarr store (several inputs are '
                                   'joined along time), with CF, geo-proj and spatial CRS attributes, a multiscale '
                                   'pyramid and consolidated metadata. OUTPUT is a directory or s3://bucket/prefix.')
    p.add_argument('inputs', nargs='+', metavar='INPUT', help='NetCDF or GRIB2 files, or directories of them')
    p.add_argument('output', metavar='OUTPUT', help='store to write: a path or s3://bucket/prefix')
    p.add_argument('--zarr-format', type=int, choices=(2, 3), default=3, help='Zarr format (default 3)')
    p.add_argument('--chunks', help='chunk sizes by dimension, e.g. time=1,lat=256,lon=256 (default: 256 x 256 in '
                                    'x/y, 1 in other dimensions, time to about 1 MiB per chunk)')
    p.add_argument('--shard', action='store_true', help='group chunks into shards (Zarr v3): 4 x 4 chunks in x/y')
    p.add_argument('--shard-shape', metavar='DIM=SIZE,...', help='shard sizes by dimension (implies --shard)')
    p.add_argument('--pack', action='store_true',
                   help='store float variables as int16 with scale_factor/add_offset (fitted to the data)')
    p.add_argument('--pack-variables', metavar='VAR,...', help='pack only these variables (implies --pack)')
    p.add_argument('--variables', help='only these variables (comma-separated)')
    p.add_argument('--append', action='store_true', help='add the inputs\' time steps to an existing store')
    p.add_argument('--overwrite', action='store_true', help='replace OUTPUT if it exists')
    p.add_argument('--no-pyramid', action='store_true', help='write level 0 only')
    p.add_argument('-q', '--quiet', action='store_true', help='no progress bar')
    p.set_defaults(func=convert)
    p = sub.add_parser('validate', help='check a store against the conventions the server reads',
                       description='Report, per convention (CF, geo-proj, spatial, multiscales, consolidated '
                                   'metadata), what a store declares, lacks or contradicts. Exit status 1 when an '
                                   'error is found, 2 when the store cannot be read.')
    p.add_argument('store', help='a path or s3://bucket/prefix')
    p.set_defaults(func=validate)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
