"""The catalog service: owns PostgreSQL (strategies, backtests, tasks, outbox, series index)."""
