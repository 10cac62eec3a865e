"""PostgreSQL access of the catalog: models, engine and session factory."""
