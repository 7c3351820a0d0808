"""What the gateway and the workers share: contracts, rules, settings, adapters."""
