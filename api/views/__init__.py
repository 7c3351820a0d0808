"""The HTTP views and the write path behind them: dispatch, answers, operations, idempotency."""
