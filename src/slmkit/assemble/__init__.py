"""The top layer: slmkit's feature packages wired together the way `slm` runs them, for
Python users who want the same thing without the command line. It may import every
package (as ``cli`` may); nothing but ``cli`` imports it.

``ServerConfig`` + ``serve``: what `slm serve` runs (see :mod:`slmkit.assemble.server`).
"""

from slmkit.assemble.config import ServerConfig
from slmkit.assemble.server import compose, serve

__all__ = ["ServerConfig", "compose", "serve"]
