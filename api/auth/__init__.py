"""Who is calling and may they: static tokens, JWTs, principals, limiter, middleware."""
