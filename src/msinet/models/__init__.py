"""Model families; importing this package registers every one (models/family.py: one descriptor per family)."""

from . import bicubic, cvhssr, ehfssr, msinet, nafrssr, nafssr  # noqa: F401  (each registers its family)
from . import ipassr  # noqa: F401,E402
from .base import StereoSRModel
from .bicubic import Bicubic
from .stereo_sr import StereoBlock, StereoSRNet

__all__ = ["Bicubic", "StereoBlock", "StereoSRModel", "StereoSRNet"]
