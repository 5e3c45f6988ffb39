import CSandbox
import Foundation
import Testing

/// The mount plan sandbox-init executes (CSandbox's `mount_plan.c`, the very table it links),
/// read as data without root: the order of its steps, each mount's attributes, and that no step
/// names a host path. What the plan builds, against a real sandbox, is KernelSurfaceTests' and
/// SandboxIsolationTests' to check.
struct MountPlanTests {
    /// One step of the plan, as Swift values.
    struct Step {
        let name: String
        let kind: csb_step_kind
        let parent: String?
        let target: String?
        let source: csb_step_source
        let fsType: String?
        let options: String?
        let value: String?
        let attributes: UInt64
        let mode: UInt32
        let flags: UInt32
        let stage: String?

        init(_ step: csb_mount_step) {
            name = String(cString: step.name)
            kind = step.kind
            parent = step.parent.map { String(cString: $0) }
            target = step.target.map { String(cString: $0) }
            source = step.source
            fsType = step.fs_type.map { String(cString: $0) }
            options = step.options.map { String(cString: $0) }
            value = step.value.map { String(cString: $0) }
            attributes = step.attributes
            mode = step.mode
            flags = step.flags
            stage = step.stage.map { String(cString: $0) }
        }

        var mounts: Bool { [CSB_STEP_IDMAPPED_TREE, CSB_STEP_NEW_FILESYSTEM, CSB_STEP_BIND].contains(kind) }
        func has(_ attribute: UInt64) -> Bool { attributes & attribute == attribute }
        func flagged(_ flag: UInt32) -> Bool { flags & flag != 0 }
    }

    static let plan: [Step] = {
        var count = 0
        let steps = csb_mount_plan(&count)!
        return (0..<count).map { Step(steps[$0]) }
    }()

    var plan: [Step] { Self.plan }

    func index(of name: String) throws -> Int {
        try #require(plan.firstIndex { $0.name == name }, "no step \(name)")
    }

    func step(_ name: String) throws -> Step { plan[try index(of: name)] }

    /// Where a step's target is as the sandbox sees it (the step "root" is "/"); nil for steps
    /// not beneath the root (the image's layers in the sandbox's directory on the host).
    func sandboxPath(of step: Step) -> String? {
        if step.name == "root" { return "/" }
        guard let parentName = step.parent, let parent = plan.first(where: { $0.name == parentName }),
            let base = sandboxPath(of: parent)
        else { return nil }
        guard let target = step.target else { return base }
        return base == "/" ? "/" + target : base + "/" + target
    }

    @Test func namesAreUniqueAndEachParentIsAnEarlierStep() throws {
        #expect(plan.count > 10)
        #expect(plan.count <= Int(CSB_MOUNT_PLAN_MAX))
        #expect(Set(plan.map(\.name)).count == plan.count, "duplicate names: \(plan.map(\.name))")
        for (position, step) in plan.enumerated() {
            #expect(!step.name.isEmpty)
            #expect(step.stage?.isEmpty == false, "\(step.name) reports no stage when it fails")
            guard let parent = step.parent else { continue }
            let parentIndex = try index(of: parent)
            #expect(parentIndex < position, "\(step.name) comes before its parent \(parent)")
            #expect(plan[parentIndex].mounts, "\(step.name)'s parent \(parent) mounts nothing")
            // A step taken only with the host's /usr cannot be beneath a step that may be skipped.
            if plan[parentIndex].flagged(CSB_STEP_HOST_USR) {
                #expect(step.flagged(CSB_STEP_HOST_USR), "\(step.name) is beneath \(parent), which may be skipped")
            }
        }
    }

    @Test func propagationIsMadePrivateFirstAndTheRootIsPivotedIntoLast() throws {
        #expect(plan.first?.kind == CSB_STEP_PRIVATE_PROPAGATION, "\(plan.first?.name ?? "none") before propagation is private")
        #expect(plan.filter { $0.kind == CSB_STEP_PRIVATE_PROPAGATION }.count == 1)
        let pivot = try #require(plan.last)
        #expect(pivot.kind == CSB_STEP_PIVOT_ROOT && pivot.parent == "root", "the last step is \(pivot.name)")
        #expect(plan.filter { $0.kind == CSB_STEP_PIVOT_ROOT }.count == 1)
    }

    @Test func eachStepComesAfterWhatItNeeds() throws {
        let enter = try #require(plan.firstIndex { $0.kind == CSB_STEP_ENTER_SANDBOX_DIR })
        let userNamespace = try #require(plan.firstIndex { $0.kind == CSB_STEP_USER_NAMESPACE })
        for (position, step) in plan.enumerated() {
            // Parentless targets and the overlays' layers are relative to the sandbox's directory.
            if (step.target != nil && step.parent == nil) || step.fsType == "overlay" {
                #expect(position > enter, "\(step.name) before the sandbox's directory is entered")
            }
            if step.kind == CSB_STEP_IDMAPPED_TREE {
                #expect(position > userNamespace, "\(step.name) before the user namespace exists")
            }
        }
        // Everything in the sandbox after its root; /usr's lower layer and opaque /usr/local before
        // its overlay; the sysctl before the masks make /proc/sys read-only; /dev before its parts.
        let ordered: [(String, String)] = [
            ("image-root", "root"), ("root", "workspace"), ("root", "tmp"), ("root", "proc"), ("root", "dev"),
            ("host-usr", "usr"), ("usr-local", "usr"), ("root", "usr"),
            ("proc", "unprivileged-ports"), ("unprivileged-ports", "readonly-sys"), ("unprivileged-ports", "mask-kcore"),
            ("dev", "dev-pts"), ("dev", "dev-shm"), ("dev", "dev-null"), ("dev-pts", "dev-ptmx"),
            ("dev-ptmx", "dev-readonly"), ("dev-shm", "dev-readonly"), ("dev-tty", "dev-readonly"),
        ]
        for (first, then) in ordered {
            #expect(try index(of: first) < index(of: then), "\(then) before \(first)")
        }
        // The read-only /dev comes after every step that writes into it.
        let readOnly = try index(of: "dev-readonly")
        for (position, step) in plan.enumerated() where step.parent == "dev" {
            #expect(position <= readOnly, "\(step.name) after /dev is read-only")
        }
    }

    @Test func theSandboxHasTheMountsItNeeds() {
        let paths = Set(plan.filter(\.mounts).compactMap { sandboxPath(of: $0) })
        for path in ["/", "/usr", "/workspace", "/tmp", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/null", "/proc/cmdline", "/proc/sys"] {
            #expect(paths.contains(path), "nothing mounted at \(path)")
        }
    }

    @Test func mountsAreNosuidNodevNoexecWhereTheyMustBe() throws {
        let nosuid = CSB_ATTR_NOSUID, nodev = CSB_ATTR_NODEV, noexec = CSB_ATTR_NOEXEC, readOnly = CSB_ATTR_RDONLY
        for step in plan where step.mounts {
            let path = sandboxPath(of: step) ?? step.target ?? step.name
            let aDevice = step.source == CSB_SOURCE_HOST_DEVICE || step.source == CSB_SOURCE_HOST_NULL
            // runc's masks of /proc directories: empty, read-only tmpfs that hold nothing to run.
            let aMask = step.kind == CSB_STEP_NEW_FILESYSTEM && step.parent == "proc" && step.has(readOnly)
            // Only /dev (and its devpts) and the devices bound in it may hold device nodes; the
            // image's root and its /usr keep setuid programs (they are the sandbox's root's).
            if !aDevice && !aMask && !["/dev", "/dev/pts"].contains(path) {
                #expect(step.has(nodev), "\(step.name) (\(path)) is not nodev")
            }
            if !aDevice && !aMask && !["/", "/usr"].contains(path) {
                #expect(step.has(nosuid), "\(step.name) (\(path)) is not nosuid")
            }
            if path == "/proc" || path == "/dev" || path == "/dev/pts" {
                #expect(step.has(noexec), "\(step.name) (\(path)) is not noexec")
            }
            // The host's trees (the image and /usr) are never writable from inside.
            if step.kind == CSB_STEP_IDMAPPED_TREE {
                #expect(step.has(readOnly | nosuid | nodev), "\(step.name) is not read-only, nosuid and nodev")
                #expect(step.has(CSB_ATTR_IDMAP), "\(step.name) is not idmapped")
            }
            if step.parent == "proc" && step.kind != CSB_STEP_WRITE_FILE && !aDevice {
                #expect(step.has(readOnly), "/proc's \(step.name) is not read-only")
            }
        }
        #expect(try step("root").has(readOnly) == false, "the root is the sandbox's to write")
        #expect(try step("workspace").has(readOnly) == false)
        #expect(try step("tmp").has(noexec) == false, "programs run from /tmp")
        #expect(try step("dev-readonly").has(readOnly))
    }

    @Test func noStepNamesAHostPath() {
        for step in plan {
            if let target = step.target {
                let components = target.split(separator: "/", omittingEmptySubsequences: false)
                #expect(!target.hasPrefix("/") && !components.contains("") && !components.contains("..")
                    && !components.contains("."), "\(step.name)'s target \(target)")
            }
            if let parent = step.parent { #expect(!parent.contains("/"), "\(step.name)'s parent \(parent)") }
            // Overlay layers are named relative to the sandbox's directory.
            for option in (step.options ?? "").split(separator: ",") {
                #expect(!option.contains("=/") && !option.contains(".."), "\(step.name): \(option)")
            }
            // Sources are named, never spelled: host paths come from sandbox-init's arguments.
            if step.source == CSB_SOURCE_HOST_DEVICE { #expect(step.target?.contains("/") == false) }
            if step.mounts && step.kind != CSB_STEP_NEW_FILESYSTEM { #expect(step.source != CSB_SOURCE_NONE, "\(step.name)") }
        }
        // Link texts are read inside the sandbox once it is the root: absolute ones are its own.
        for step in plan where step.kind == CSB_STEP_SYMLINK {
            #expect(step.value.map { $0.hasPrefix("/proc/self/") || !$0.hasPrefix("/") } == true, "\(step.name) → \(step.value ?? "")")
        }
    }

    @Test func optionsAreFilledInFromTheSandbox() throws {
        var values = csb_mount_values(uid_base: 131_072, tmp_size: 1 << 30)
        func expand(_ options: String, size: Int = 256) -> (String?, Int32) {
            var buffer = [CChar](repeating: 0, count: size)
            guard csb_expand_mount_options(options, &values, &buffer, size) == 0 else { return (nil, errno) }
            return (buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, 0)
        }
        let tmp = try #require(try step("tmp").options)
        #expect(expand(tmp).0 == "mode=1777,size=1073741824,uid=131072,gid=131072")
        let devpts = try #require(try step("dev-pts").options)
        #expect(expand(devpts).0 == "newinstance,ptmxmode=0666,mode=0620,gid=131077")
        #expect(expand("").0 == "")
        #expect(expand("size={unknown}").1 == EINVAL)
        #expect(expand("size={uid").1 == EINVAL)
        // 20 characters and the NUL.
        #expect(expand("mode=1777,uid={uid}", size: 20).1 == ENAMETOOLONG)
        #expect(expand("mode=1777,uid={uid}", size: 21).0 == "mode=1777,uid=131072")
        // Every template in the plan expands.
        for step in plan {
            if let options = step.options { #expect(expand(options, size: 8192).0 != nil, "\(step.name): \(options)") }
        }
    }
}
