from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .dvp import *  # noqa: F401,F403
from .sot import *  # noqa: F401,F403
from .vid import *  # noqa: F401,F403
from .mot import *  # noqa: F401,F403
from .vis import *  # noqa: F401,F403
