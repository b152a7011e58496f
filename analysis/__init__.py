"""Pure functions on result tables: metrics, sweeps, statistics and reports."""
