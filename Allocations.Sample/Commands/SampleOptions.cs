namespace Allocations.Sample.Commands;

/// <summary>Small helpers shared by the sample's commands.</summary>
internal static class SampleOptions
{
    /// <summary>The default database: allocations-sample.db in the user's local application data folder.</summary>
    internal static string DefaultDatabasePath()
    {
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
        if (string.IsNullOrEmpty(root))
        {
            root = Path.GetTempPath();
        }
        var directory = Path.Combine(root, "Allocations");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, "allocations-sample.db");
    }

    /// <summary>Gets the value after <paramref name="name"/> (for example --db FILE), or null.</summary>
    internal static string? Value(string[] args, string name)
    {
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (string.Equals(args[i], name, StringComparison.Ordinal))
            {
                return args[i + 1];
            }
        }
        return null;
    }

    internal static bool Flag(string[] args, string name) => args.Contains(name, StringComparer.Ordinal);
}
