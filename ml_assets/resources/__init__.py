from ml_assets.resources.landing_zone import LandingZone
from ml_assets.resources.mlflow import MlflowResource

__all__ = ["LandingZone", "MlflowResource"]
