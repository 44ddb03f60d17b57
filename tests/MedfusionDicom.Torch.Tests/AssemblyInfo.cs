// libtorch's default generator and thread count are process-wide; the seeded parity cases and the tests that
// change them must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
