"""Model architectures; importing this package registers every named configuration."""

# (import order matters: architectures register before the named configs that use them; ruff I001 off here)
from . import bicubic, stereo_sr  # noqa: F401  (architectures first)
from . import msinet, nafssr  # noqa: F401,E402  (named configs)
from . import nafrssr  # noqa: F401,E402  (NAFRSSR: its own architecture and the authors' checkpoints)
from . import cvhssr  # noqa: F401,E402  (CVHSSR: its arch, named configs, authors' checkpoints)
from . import ehfssr  # noqa: F401,E402  (EHFSSR-S, with its authors' checkpoint loader)
from .base import StereoSRModel
from .bicubic import Bicubic
from .stereo_sr import StereoBlock, StereoSRNet

__all__ = ["Bicubic", "StereoBlock", "StereoSRModel", "StereoSRNet"]
