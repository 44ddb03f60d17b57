using System.Reflection;

namespace MedfusionDicom.Grpc.Tests.Infrastructure;

public static class RepoPaths
{
    public static string Root { get; } = typeof(RepoPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepoRoot").Value!;

    public static string NodePeerDirectory { get; } = Path.Combine(Root, "tests", "interop", "node");
}
