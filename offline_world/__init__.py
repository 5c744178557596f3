"""The offline world: the .NET images under their real names on a machine that cannot reach MCR.

    COURSE_OFFLINE_WORLD=1 python -m offline_world up   # idempotent; prints the shim folder
    python -m offline_world down                        # undo every change to the machine
    python -m offline_world status
    eval "$(python -m offline_world env)"              # the Debian docker client first on PATH

`up` assembles stand-ins for mcr.microsoft.com/dotnet/{runtime-deps,runtime,aspnet,sdk} (and the
chiseled runtime-deps/runtime/aspnet, and Docker Hub's registry:2) from the machine's own .NET SDK
on a debootstrapped Debian 12 base, following the official recipe (offline_world/recipe/), and
serves them from Debian's docker-registry on 127.0.0.1:443 with a locally made certificate, a hosts
entry and /etc/docker/certs.d, so `docker pull mcr.microsoft.com/dotnet/sdk:10.0` works unmodified.

It runs only when switched on (COURSE_OFFLINE_WORLD=1) and refuses a machine that reaches the real
registry. It either finishes or leaves the machine as `down` does. Images and caches stay: the second
`up` rebuilds nothing unless the recipe, the SDK or the base changed (a hash kept as an image label).

One module per job: `preflight` (facts and refusals), `engine` (packages, dockerd, the client),
`base` (the Debian image), `standins` (the images), `registry` (TLS and the loopback registry),
`hosts` (hosts entry, certs.d), `commands` (up, down, status, env), `__main__` (the command line).
"""
