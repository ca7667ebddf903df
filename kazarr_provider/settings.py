"""Settings from the environment (the variables Kazarr users already know, plus ours)."""
from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_MAX_VALUES = 2_000_000
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024     # 10 000 WKT points take about 0.3 MB


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, '').strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f'{name} must be an integer, got {value!r}') from None


@dataclass
class Settings:
    datasets_path: str | None
    bucket: str | None
    host: str
    port: int
    public_url: str
    max_values: int
    refresh_seconds: float
    config_path: str
    state_dir: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()   # origins allowed cross-origin access ('*': any); none: CORS off
    max_async_values: int = 10 * DEFAULT_MAX_VALUES   # what one asynchronous process (a job) may read
    refresh_token: str | None = None     # bearer token POST /catalogue/refresh requires; None: open to anyone

    @property
    def cors(self) -> bool:
        """OPTIONS answers preflights only when CORS is on."""
        return bool(self.cors_origins)

    @classmethod
    def from_env(cls) -> 'Settings':
        port = _int('PORT', 5000)
        host = os.environ.get('HOSTNAME') or '127.0.0.1'
        # shells and containers export HOSTNAME as the machine's name; only an address means "bind here"
        if not _looks_like_address(host):
            host = '127.0.0.1'
        public = os.environ.get('PUBLIC_URL') or f'http://{"localhost" if host in ("0.0.0.0", "::") else host}:{port}'
        return cls(
            datasets_path=os.environ.get('DATASETS_PATH') or None,
            bucket=os.environ.get('BUCKET_NAME') or None,
            host=host,
            port=port,
            public_url=public.rstrip('/'),
            max_values=_int('MAX_VALUES', DEFAULT_MAX_VALUES),
            refresh_seconds=float(os.environ.get('CATALOGUE_REFRESH_SECONDS', '30') or 30),
            config_path=os.environ.get('KAZARR_CONFIG') or 'pygeoapi-config.yml',
            state_dir=os.environ.get('KAZARR_STATE_DIR') or '.kazarr',
            max_body_bytes=_int('MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES),
            max_async_values=_int('MAX_ASYNC_VALUES', 10 * _int('MAX_VALUES', DEFAULT_MAX_VALUES)),
            cors_origins=tuple(o.strip().rstrip('/') for o in os.environ.get('CORS_ORIGINS', '').split(',')
                               if o.strip()),
            refresh_token=os.environ.get('REFRESH_TOKEN', '').strip() or None,
        )


def _looks_like_address(host: str) -> bool:
    import ipaddress
    if host == 'localhost':
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
