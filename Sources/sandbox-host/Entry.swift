import ArgumentParser
import SandboxHost

/// The `sandbox-host` executable: all of it lives in the `SandboxHost` library, which the tests use.
@main
extension SandboxHostCommand {}
