"""What an operator of a node can watch: Prometheus metrics (``metrics``) and logs (``logs``).
See docs/operations-health.md."""
