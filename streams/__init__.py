"""sloburn: error budgets and burn-rate alerting, computed as a stream."""
