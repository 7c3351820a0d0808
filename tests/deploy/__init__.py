"""The deployment files: docker compose, the image, RabbitMQ, Prometheus, Grafana, Kubernetes.

Each file is checked by a real validator (see tests/deployment.py), and each validator
is shown a broken document too, so a pass means the file was really looked at.
"""
