"""Execution in the catalog: claiming runs, dispatching jobs, recording outcomes."""
