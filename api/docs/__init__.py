"""The OpenAPI and AsyncAPI documents, and the request and response schemas they describe."""
