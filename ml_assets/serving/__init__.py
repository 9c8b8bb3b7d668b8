"""The model server: MLflow's scoring protocol, request validation, health and metrics."""
