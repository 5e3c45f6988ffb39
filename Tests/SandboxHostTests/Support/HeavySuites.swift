import Testing

/// Suites that load the whole machine (10 GB through a preview, 61,000 traversal requests,
/// 200 sandbox cycles, bombs inside sandboxes, a 200 MB upload killed mid-way) run one after
/// another, beside the light suites: the containment tests measure how fast the host answers
/// while a sandbox attacks it, which means nothing if another suite has both cores.
@Suite(.serialized) enum HeavySuites {}
