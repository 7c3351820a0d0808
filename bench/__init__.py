"""The benchmark: the service's figures beside the raw limits of its own parts (`make bench`)."""
