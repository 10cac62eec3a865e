"""The backtest platform's services and the layers they share (docs/architecture.md)."""
