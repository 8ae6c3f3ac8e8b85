using Xunit;

namespace Allocations.Tests.Packaging;

/// <summary>Packs the library and the admin tool once into a temporary folder (a local NuGet feed) under a version no
/// earlier run used, so the machine's package cache can be reused for every dependency without ever serving a stale
/// copy of ours; removes the feed and those cache entries afterwards.</summary>
public sealed class PackageFeed : IDisposable
{
    /// <summary>The package ids this feed packs, with their project folders.</summary>
    internal static readonly (string Id, string Project)[] Packages =
    [
        ("Allocations.Core", "Allocations.Core/Allocations.Core.csproj"),
        ("Allocations.Sample", "Allocations.Sample/Allocations.Sample.csproj"),
    ];

    public PackageFeed()
    {
        RepositoryRoot = FindRepositoryRoot();
        Root = Path.Combine(Path.GetTempPath(), "allocations-pack-" + Guid.NewGuid().ToString("N"));
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        // A fresh pre-release of the version in Directory.Build.props: unique per run, so neither the global
        // packages folder nor a previous feed can answer for it.
        Suffix = "test." + Guid.NewGuid().ToString("N")[..12];
        foreach (var (_, project) in Packages)
        {
            // Its own artifacts folder: the repository's bin/ and obj/ are left as the solution build made them.
            var pack = DotnetCli.Dotnet(RepositoryRoot, "pack", Path.Combine(RepositoryRoot, project), "-c", "Release",
                "-o", Feed, "--artifacts-path", Path.Combine(Root, "artifacts"), "-p:VersionSuffix=" + Suffix);
            Assert.True(pack.ExitCode == 0, pack.ToString());
        }
        var core = Directory.GetFiles(Feed, "Allocations.Core.*.nupkg").Single(f => !f.EndsWith(".snupkg", StringComparison.Ordinal));
        Version = Path.GetFileNameWithoutExtension(core)["Allocations.Core.".Length..];
        Assert.EndsWith("-" + Suffix, Version, StringComparison.Ordinal);
    }

    /// <summary>The folder holding Allocations.sln.</summary>
    internal string RepositoryRoot { get; }

    /// <summary>This feed's temporary folder; scratch projects go under it too.</summary>
    internal string Root { get; }

    /// <summary>The folder with the .nupkg and .snupkg files.</summary>
    internal string Feed { get; }

    /// <summary>The pre-release label this run packed with.</summary>
    internal string Suffix { get; }

    /// <summary>The packages' full version, for example 0.3.0-test.0123456789ab.</summary>
    internal string Version { get; }

    /// <summary>The .nupkg of <paramref name="id"/>.</summary>
    internal string Package(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    public void Dispose()
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var (id, _) in Packages)
        {
            var cached = Path.Combine(cache, id.ToLowerInvariant(), Version.ToLowerInvariant());
            if (Directory.Exists(cached))
            {
                Directory.Delete(cached, recursive: true);
            }
        }
        Directory.Delete(Root, recursive: true);
    }

    /// <summary>Walks up from the test's base directory to the folder holding Allocations.sln.</summary>
    internal static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Allocations.sln")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no Allocations.sln above {AppContext.BaseDirectory}");
    }
}
