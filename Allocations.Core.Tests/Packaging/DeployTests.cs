using Xunit;

namespace Allocations.Tests.Packaging;

/// <summary>The files in deploy/ work as written: the systemd service's ExecStart and the cron line run as a
/// scratch user against a store that user owns (deploy/test-deploy.sh; it needs root to create the user).</summary>
[Collection(PackagingCollection.Name)]
public sealed class DeployTests
{
    [Fact]
    public void ServiceAndCronLine_RunAsAScratchUser_ImportACapturedSacctFile()
    {
        var root = PackageFeed.FindRepositoryRoot();
        Assert.True(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root",
            "deploy/test-deploy.sh creates a scratch user: run the tests as root (CI does)");
        var result = DotnetCli.Run("/bin/bash", root, null, Path.Combine(root, "deploy", "test-deploy.sh"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("test-deploy: passed", result.Output, StringComparison.Ordinal);
    }
}
