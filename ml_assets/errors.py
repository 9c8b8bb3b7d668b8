"""One exception type per failure family. Each message says what was wrong and what to do."""


class MLAssetsError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero, without a traceback."""


class LandingZoneError(MLAssetsError):
    """The landing zone is missing or empty, or a landed file cannot be read."""


class ContractViolation(MLAssetsError):
    """Data breaks its contract: a schema fault, or too many bad rows."""


class LeakageDetected(MLAssetsError):
    """The label, a label proxy or an id-like column reached the features."""


class TrainingFailed(MLAssetsError):
    """A model could not be trained, or produced unusable predictions."""


class RegistryError(MLAssetsError):
    """The MLflow tracking/registry store is unreachable, or a registry operation is refused."""


class DeploymentFailed(MLAssetsError):
    """The model server could not be started or did not pass its canary."""
