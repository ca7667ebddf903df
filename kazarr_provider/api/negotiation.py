"""Content negotiation shared by the APIs: `f`, else `Accept` with q-values, else the default; 400 or 406."""
from __future__ import annotations

from ..errors import InvalidParameter, NotAcceptable
from ..formats import ALIASES, DEFAULT_FORMAT, FORMATS

WILDCARDS = ('*/*', 'application/*')


def accepted(accept: str | None) -> list[tuple[str, str, float]]:
    """The media ranges of an Accept header, in order: (media type, with its parameters other than q, q)."""
    out = []
    for part in (accept or '').split(','):
        media, *options = (p.strip() for p in part.split(';'))
        quality = 1.0
        for option in options:
            key, _, value = option.partition('=')
            if key.strip().lower() == 'q':
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        # parameters other than q are part of the media type (image/tiff; application=geotiff)
        full = ';'.join([media] + [o.replace(' ', '').lower() for o in options if not o.lower().startswith('q=')])
        out.append((media, full, quality))
    return out


def negotiate_format(f: str | None, accept: str | None, formats: dict | None = None, aliases: dict | None = None,
                     default: str | None = None) -> str:
    """The format named by `f`, else the best of `Accept` (q-values), else the default; 400 / 406 otherwise.

    `formats` ({name: media type}), `aliases` ({lower-case f value or media type: name}) and `default` are
    the EDR ones unless an API passes its own."""
    formats, aliases, default = formats or FORMATS, aliases or ALIASES, default or DEFAULT_FORMAT
    if f:
        name = aliases.get(f.strip().lower()) or (f if f in formats else None)
        if name is None:
            raise InvalidParameter(f'f: unknown output format {f!r}; expected one of '
                                   f'{", ".join(formats)}', 'f')
        return name
    ranked, refused = [], []
    for position, (media, full, quality) in enumerate(accepted(accept)):
        if quality <= 0 or not media:
            continue
        if full in aliases or media in aliases:
            ranked.append((-quality, position, aliases.get(full) or aliases[media]))
        elif media in WILDCARDS or (media == 'image/*' and 'GeoTIFF' in formats):
            ranked.append((-quality, position, default))
        else:
            refused.append(media)
    if ranked:
        # the highest q wins; among equals, the one listed first (RFC 9110 section 12.5.1)
        return min(ranked)[2]
    if refused:
        raise NotAcceptable(f'Accept: none of {", ".join(refused[:5])} can be produced; this resource answers '
                            f'{", ".join(formats.values())} (or use f={"|".join(formats)})', 'Accept')
    return default
