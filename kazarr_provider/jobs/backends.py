"""Opening a job store: the backend (SQLite or PostgreSQL) and results store a URL or the settings name."""
from __future__ import annotations

from .postgres import PostgresJobStore
from .results import open_results
from .settings import JobSettings
from .sqlite import SQLiteJobStore
from .store import JobStore, redact_url


def open_store(settings: JobSettings | str | None = None, results=None) -> JobStore:
    """The job store of `settings` (default: JobSettings.from_env()) or of a database URL: SQLite for
    sqlite:///path (or a plain path), PostgreSQL for postgresql://... The schema is created or migrated
    here. `results`: the results store to remove files from on dismiss/expire; with settings, the one of
    RESULTS_URL unless given. Open once per process (after any fork) and share it between threads."""
    if settings is None:
        settings = JobSettings.from_env()
    if isinstance(settings, JobSettings):
        url = settings.database_url
        if results is None:
            results = open_results(settings.results_url)
    else:
        url = str(settings)
    if url.startswith(('postgresql://', 'postgres://')):
        store = PostgresJobStore(url)
    elif url.startswith('sqlite:///') or '://' not in url:
        store = SQLiteJobStore(url[len('sqlite:///'):] if url.startswith('sqlite:///') else url)
    else:
        raise ValueError(f'JOBS_DATABASE_URL: unsupported scheme in {redact_url(url)!r} '
                         '(postgresql://... or sqlite:///path)')
    store.results = results
    return store
