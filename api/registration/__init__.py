"""Self-registration: initial access tokens, RFC 7591/7592 and OAuth 1.0a consumer-key requests."""
