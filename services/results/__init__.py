"""The results service: artifact streaming (JSON rows and Parquet downloads) and run comparison."""
