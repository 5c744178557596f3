# One build definition for the laptop and for CI: `docker buildx bake test`, then `docker buildx bake
# image` (`--push` to publish), and `docker buildx bake sbom`. Every variable can be set from the
# environment of the same name: CI sets REVISION and CREATED from the commit, the notebook likewise.

variable "REGISTRY" {
  default = "localhost:5000"
}

variable "REPOSITORY" {
  default = "ship-it/api"
}

# The app's version, by hand (or from a git tag in CI): one of the two tags.
variable "VERSION" {
  default = "1.0.0"
}

# The commit the image is built from (`git rev-parse HEAD`); the other tag is its first 12 characters.
variable "REVISION" {
  default = "0000000000000000000000000000000000000000"
}

# When it was built, RFC 3339 (`date -u +%Y-%m-%dT%H:%M:%SZ`).
variable "CREATED" {
  default = "1970-01-01T00:00:00Z"
}

variable "SOURCE" {
  default = "https://github.com/example/ship-it"
}

# No BuildKit provenance: the image is one manifest on every engine, and the lab's signature, labels and
# SBOM say where it comes from. (With Docker's containerd image store, pushing an index with an
# attestation uploads its manifests under the tag at once, which registry:2 can answer with a 500.)
target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  attest     = ["type=provenance,disabled=true"]
}

# Runs the tests in the SDK image; a failing test fails this target. Nothing is exported.
target "test" {
  inherits = ["_common"]
  target   = "test"
  output   = ["type=cacheonly"]
}

# BEGIN SOLUTION: the `image` target: inherits _common; tags VERSION and sha-<first 12 of REVISION> of REGISTRY/REPOSITORY; the four OCI labels source, revision, created, version
target "image" {
  inherits = ["_common"]
  tags = [
    "${REGISTRY}/${REPOSITORY}:${VERSION}",
    "${REGISTRY}/${REPOSITORY}:sha-${substr(REVISION, 0, 12)}",
  ]
  labels = {
    "org.opencontainers.image.source"   = SOURCE
    "org.opencontainers.image.revision" = REVISION
    "org.opencontainers.image.created"  = CREATED
    "org.opencontainers.image.version"  = VERSION
  }
}
# END SOLUTION

# The app's NuGet dependencies as CycloneDX JSON, written to ./sbom/app.cdx.json on this machine.
target "sbom" {
  inherits = ["_common"]
  target   = "sbom"
  output   = ["type=local,dest=sbom"]
}
