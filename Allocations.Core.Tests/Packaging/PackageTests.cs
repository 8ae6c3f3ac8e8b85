using System.IO.Compression;
using System.Xml.Linq;
using Xunit;

namespace Allocations.Tests.Packaging;

/// <summary>What an adopter gets from <c>dotnet pack</c>: a library package a scratch host installs from a local
/// folder and runs the README's quickstart against, and the <c>allocations</c> tool installed from the same folder.</summary>
[Collection(PackagingCollection.Name)]
public sealed class PackageTests : IClassFixture<PackageFeed>
{
    private readonly PackageFeed feed;

    public PackageTests(PackageFeed feed)
    {
        this.feed = feed;
    }

    [Fact]
    public void LibraryPackage_CarriesLicenceReadmeRepositoryAndSymbols()
    {
        using var package = ZipFile.OpenRead(feed.Package("Allocations.Core"));
        var nuspec = Nuspec(package);
        XNamespace ns = nuspec.Root!.GetDefaultNamespace();
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.Equal("expression", metadata.Element(ns + "license")?.Attribute("type")?.Value);
        Assert.Equal("The Allocations authors", metadata.Element(ns + "authors")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
        Assert.Contains("slurm", metadata.Element(ns + "tags")?.Value ?? "", StringComparison.Ordinal);
        Assert.StartsWith("0.", metadata.Element(ns + "version")?.Value, StringComparison.Ordinal);
        var readme = metadata.Element(ns + "readme")?.Value;
        Assert.Equal("PACKAGE.md", readme);
        Assert.NotNull(package.GetEntry("PACKAGE.md"));
        Assert.NotNull(package.GetEntry("LICENSE"));
        var repository = metadata.Element(ns + "repository");
        Assert.Equal("git", repository?.Attribute("type")?.Value);
        Assert.StartsWith("https://", repository?.Attribute("url")?.Value, StringComparison.Ordinal);
        // The XML docs ship with the library; the symbols go to the .snupkg beside it.
        Assert.NotNull(package.GetEntry("lib/net10.0/Allocations.Core.dll"));
        Assert.NotNull(package.GetEntry("lib/net10.0/Allocations.Core.xml"));
        Assert.Null(package.GetEntry("lib/net10.0/Allocations.Core.pdb"));
        using var symbols = ZipFile.OpenRead(Path.ChangeExtension(feed.Package("Allocations.Core"), ".snupkg"));
        Assert.NotNull(symbols.GetEntry("lib/net10.0/Allocations.Core.pdb"));
    }

    [Fact]
    public void LibraryPackage_InstalledInAScratchHost_RunsTheReadmeQuickstart()
    {
        var host = Path.Combine(feed.Root, "host");
        Directory.CreateDirectory(host);
        // Empty build files stop MSBuild from looking further up for any it might find above the temp folder.
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            File.WriteAllText(Path.Combine(host, name), "<Project />\n");
        }
        // The local feed is added to the machine's sources (not instead of them): dependencies come from there.
        File.WriteAllText(Path.Combine(host, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="allocations-local" value="{feed.Feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(host, "Host.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Allocations.Core" Version="[{feed.Version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(host, "Program.cs"), ReadmeQuickstart(feed.RepositoryRoot));

        var build = DotnetCli.Dotnet(host, "build", "-c", "Release", "-o", Path.Combine(host, "out"));
        Assert.True(build.ExitCode == 0, build.ToString());
        // The host restored our package at the version packed this run, from the local folder.
        var assets = File.ReadAllText(Path.Combine(host, "obj", "project.assets.json"));
        Assert.Contains($"\"Allocations.Core/{feed.Version}\"", assets, StringComparison.Ordinal);

        var temp = Path.Combine(host, "tmp");
        Directory.CreateDirectory(temp);
        var run = DotnetCli.Run(DotnetCli.Host, host, new Dictionary<string, string> { ["TMPDIR"] = temp },
            Path.Combine(host, "out", "Host.dll"));
        Assert.True(run.ExitCode == 0, run.ToString());
        // Every line the README says it prints, it prints.
        var printed = run.Output.Split('\n').Select(l => l.TrimEnd()).ToHashSet(StringComparer.Ordinal);
        foreach (var line in ReadmeQuickstartOutput(feed.RepositoryRoot))
        {
            Assert.True(printed.Contains(line), $"the quickstart did not print the README's line '{line}':\n{run}");
        }
        // The quickstart's store is a real SQLite file in the temp folder it was given.
        Assert.Single(Directory.GetFiles(temp, "allocations-quickstart-*.db"));
    }

    [Fact]
    public void ToolPackage_InstalledFromTheFolder_RunsAsAllocations()
    {
        using (var package = ZipFile.OpenRead(feed.Package("Allocations.Sample")))
        {
            var settings = XDocument.Load(package.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open());
            Assert.Equal("allocations", settings.Descendants("Command").Single().Attribute("Name")?.Value);
        }
        var tools = Path.Combine(feed.Root, "tools");
        var install = DotnetCli.Dotnet(feed.Root, "tool", "install", "--tool-path", tools, "--add-source", feed.Feed,
            "--version", feed.Version, "Allocations.Sample");
        Assert.True(install.ExitCode == 0, install.ToString());
        var allocations = Path.Combine(tools, "allocations");
        Assert.True(File.Exists(allocations), install.ToString());

        // A home of its own: whatever the tool writes by default lands in the scratch folder.
        var home = Path.Combine(feed.Root, "home");
        Directory.CreateDirectory(Path.Combine(home, ".local", "share"));
        var environment = new Dictionary<string, string> { ["HOME"] = home, ["TMPDIR"] = home };
        var help = DotnetCli.Run(allocations, feed.Root, environment, "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("usage", help.Output, StringComparison.OrdinalIgnoreCase);

        // --version answers with the package's version (the informational version may add +commit) and exits 0.
        var version = DotnetCli.Run(allocations, feed.Root, environment, "--version");
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Contains(feed.Version, version.Output.Trim().Split('\n')[0], StringComparison.Ordinal);
    }

    [Fact]
    public void SingleFilePublish_CopiedAloneIntoAnEmptyFolder_RunsTheDemo()
    {
        // The documented self-contained publish; the runtime pack for linux-x64 comes from the NuGet source.
        var publish = Path.Combine(feed.Root, "single-file");
        var result = DotnetCli.Dotnet(feed.RepositoryRoot, "publish",
            Path.Combine(feed.RepositoryRoot, "Allocations.Sample", "Allocations.Sample.csproj"), "-c", "Release",
            "-r", "linux-x64", "--self-contained", "-p:PublishSingleFile=true", "-o", publish,
            "--artifacts-path", Path.Combine(feed.Root, "artifacts-single-file"));
        Assert.True(result.ExitCode == 0, result.ToString());

        // Only the one file, in a folder of its own, with a home of its own (where it unpacks e_sqlite3).
        var alone = Path.Combine(feed.Root, "alone");
        Directory.CreateDirectory(alone);
        var allocations = Path.Combine(alone, "allocations");
        File.Copy(Path.Combine(publish, "Allocations.Sample"), allocations); // keeps the execute bit
        var home = Path.Combine(feed.Root, "single-file-home");
        Directory.CreateDirectory(Path.Combine(home, ".local", "share"));
        var environment = new Dictionary<string, string> { ["HOME"] = home, ["TMPDIR"] = home };

        var demo = DotnetCli.Run(allocations, alone, environment, "demo");
        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.DoesNotContain("DllNotFoundException", demo.Errors, StringComparison.Ordinal);
        Assert.NotEmpty(Directory.GetFiles(home, "*.db", SearchOption.AllDirectories));
        Assert.Equal(["allocations"], Directory.GetFileSystemEntries(alone).Select(Path.GetFileName));
    }

    /// <summary>The first <c>```csharp</c> block after the README heading that names the quickstart.</summary>
    internal static string ReadmeQuickstart(string repositoryRoot)
    {
        var lines = File.ReadAllLines(Path.Combine(repositoryRoot, "README.md"));
        var heading = Array.FindIndex(lines, l => l.StartsWith('#') && l.Contains("Quickstart", StringComparison.OrdinalIgnoreCase));
        Assert.True(heading >= 0, "README.md has no heading containing 'Quickstart'");
        var open = Array.FindIndex(lines, heading + 1, l => l.Trim().Equals("```csharp", StringComparison.OrdinalIgnoreCase));
        Assert.True(open > heading, "no ```csharp block after the README's Quickstart heading");
        var close = Array.FindIndex(lines, open + 1, l => l.Trim() == "```");
        Assert.True(close > open, "the README's quickstart block is not closed");
        return string.Join('\n', lines[(open + 1)..close]) + "\n";
    }

    /// <summary>The non-empty lines of the first <c>```text</c> block after the quickstart's code, before the next
    /// heading: what the README says the quickstart prints.</summary>
    internal static IReadOnlyList<string> ReadmeQuickstartOutput(string repositoryRoot)
    {
        var lines = File.ReadAllLines(Path.Combine(repositoryRoot, "README.md"));
        var heading = Array.FindIndex(lines, l => l.StartsWith('#') && l.Contains("Quickstart", StringComparison.OrdinalIgnoreCase));
        var code = Array.FindIndex(lines, heading + 1, l => l.Trim().Equals("```csharp", StringComparison.OrdinalIgnoreCase));
        var codeEnd = Array.FindIndex(lines, code + 1, l => l.Trim() == "```");
        var next = Array.FindIndex(lines, codeEnd + 1, l => l.StartsWith('#'));
        var open = Array.FindIndex(lines, codeEnd + 1, l => l.Trim().Equals("```text", StringComparison.OrdinalIgnoreCase));
        Assert.True(open > codeEnd && (next < 0 || open < next),
            "the README's Quickstart has no ```text block after its code saying what it prints");
        var close = Array.FindIndex(lines, open + 1, l => l.Trim() == "```");
        var expected = lines[(open + 1)..close].Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(expected);
        return expected;
    }

    private static XDocument Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var stream = entry.Open();
        return XDocument.Load(stream);
    }
}

/// <summary>The packaging tests run whole builds: they run alone, after the parallel tests, so they neither slow nor
/// disturb the timing-sensitive ones (the crash tests time their kills).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Packaging (builds, run alone)";
}
