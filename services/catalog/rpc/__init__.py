"""Servicer mixins of the CatalogService, one per group of RPCs.

Each mixin implements some RPCs and relies on two attributes set by
`CatalogServicer.__init__`: `settings` (CatalogSettings) and `sessions`
(an async_sessionmaker). RPCs no mixin implements fall through to the
generated base class, which answers UNIMPLEMENTED.
"""
