"""The HTTP gateway: authenticates, validates, publishes commands, serves reads."""
