"""The Jupyter kernels the tests start (nbval's, the TODO-coverage runs', nbclient's) talk over Unix
sockets, not TCP ports.

Why: a kernel manager picks its kernel's five TCP ports by binding port 0 and letting go; the kernel
binds them a moment later. In between, another worker's kernel manager, or Docker publishing a
container's port (from the same ephemeral range), can take one, and the kernel dies as it starts:
"Kernel died before replying to kernel_info" (jupyter/jupyter_client#487; jupyter_client's port
cache guards one process only, and the README's test command runs four). A socket file named after
the kernel alone cannot be taken.
"""

import os
import tempfile
import uuid

import nbval.kernel
from jupyter_client.manager import KernelManager
from traitlets import default


class SocketKernelManager(KernelManager):
    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        """The sockets' path without the channel's number, absolute: the kernel runs in the
        notebook's folder, its manager in another."""
        return os.path.join(tempfile.gettempdir(), f"kernel-{uuid.uuid4()}")


def use_in_nbval() -> None:
    """nbval makes its kernel managers itself and offers no option for the class."""
    nbval.kernel.KernelManager = SocketKernelManager
