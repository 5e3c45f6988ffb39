import SandboxRuntime

/// The sandbox images a project may be created with.
protocol ImageCatalog: Sendable {
    func exists(_ name: String) -> Bool
    func list() -> [ImageStore.Info]
}

extension ImageStore: ImageCatalog {}
