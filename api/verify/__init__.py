"""Credential checks for the authorization servers: secrets, OAuth 1.0a signatures, nonces."""
