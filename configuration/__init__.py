"""Settings and the errors a person running the product can act on: the bottom layer.

Every other package may import this one; it imports no first-party package. The settings
are read from the environment once, at the edge (the CLI's command, the Dagster code
location), validated there, and passed down as one `Settings` object.
"""

from configuration.errors import ConfigurationError, UserError
from configuration.settings import PepperMissingError, PrivacyMode, Secret, Settings

__all__ = [
    "ConfigurationError",
    "PepperMissingError",
    "PrivacyMode",
    "Secret",
    "Settings",
    "UserError",
]
