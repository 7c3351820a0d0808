"""The workers: apply client commands to MongoDB and publish what happened."""
