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
Docker Hub's names come from a read-only view of the same storage on registry-1.docker.io
(127.0.2.1) that, as Docker Hub does, asks for a token from auth.docker.io (127.0.2.2, the world's
token service); the world's CA is in the machine's CA store too, as the public CA of the real
auth.docker.io is, since BuildKit's client fetches those tokens itself.

It runs only when switched on (COURSE_OFFLINE_WORLD=1) and refuses a machine that reaches the real
registry. It either finishes or leaves the machine as `down` does. Images and caches stay: the second
`up` rebuilds nothing unless the recipe, the SDK or the base changed (a hash kept as an image label).

One module per job: `preflight` (facts and refusals), `engine` (packages, dockerd, the client),
`base` (the Debian image), `standins` (the images), `registry` (TLS and the loopback registry),
`hub` (Docker Hub's registry and token service, `token_service`), `hosts` (hosts entries, certs.d,
the machine's CA store), `commands` (up, down, status, env), `__main__` (the command line).
"""
